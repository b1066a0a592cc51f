"""File adapters: readers and writers of images, tables and results (engine stays file-free)."""
