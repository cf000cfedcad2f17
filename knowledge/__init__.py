"""The creator's knowledge: loaders, chunking, embeddings, vector store and retrieval."""
