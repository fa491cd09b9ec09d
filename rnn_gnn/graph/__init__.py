"""Part 3: graph neural networks on ``jraph.GraphsTuple``.

Modules, bottom-up (each imports only those above it):

graphs       ``GraphsTuple`` from edges, padding, ``NodeData`` (a node-classification problem)
karate       Zachary's karate club as ``NodeData``
download     where the Planetoid files come from: published sha256, data dir / env / cache, download
unpickle     the restricted unpickler and the validation of what a pickle holds
planetoid    Cora / Citeseer as ``NodeData``: hash check, restricted parse, validation, assembly
data         every dataset by name (``load``, ``DATASETS``)
layers       GCN layer (Jraph message passing, A_hat H W) and GAT layer
models       GCN and GAT node classifiers (init / apply / which weights get L2)
classify     node classification: papers' settings, ``make_trainer``, selection rules, seeds vmapped
hops         which nodes can influence a node after k layers (question 3.1b)
waves        question 3.3b's task: coloured waves on a small-world graph
graph_lstm   the graph-convolutional LSTM and its two baselines (LSTM per node, GCN)
wave_scores  accuracy, per-class counts and F1 of a wave forecast; the rule's ceiling
forecast     training and scoring those models on the waves, seeds vmapped
comparison   question 3.3b's four variants trained per seed, with checkpoints and resume
figures      Part 3's figures (classification curves, karate clubs, the comparison)
"""
