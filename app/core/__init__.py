"""The kernel: settings, connections, the embedded server, errors, arXiv ids, records, the embedding
space, the embedders and the reranker. It imports nothing from etl/, app.services or the interfaces."""
