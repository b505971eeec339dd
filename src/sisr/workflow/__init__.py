"""The workflow's glue: one function per rule (jobs), GPU pinning on a cluster, Ctrl-C, the closing message,
TensorBoard."""
