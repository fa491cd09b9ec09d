"""Part 3: graph neural networks on ``jraph.GraphsTuple``.

layers       GCN layer (Jraph message passing, A_hat H W) and GAT layer
models       GCN and GAT node classifiers (init / apply / which weights get L2)
data         karate club, Planetoid Cora/Citeseer (restricted unpickler, cache, download), padding
classify     node classification with the library's training loop, seeds vmapped
hops         which nodes can influence a node after k layers (question 3.1b)
graph_lstm   a graph-convolutional LSTM and the spatio-temporal task it is compared on
comparison   question 3.3b's four variants trained per seed, with checkpoints and resume
figures      Part 3's figures (classification curves, karate clubs, the comparison)
"""
