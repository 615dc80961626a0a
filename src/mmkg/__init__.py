"""mmkg: image-text posts to a multimodal knowledge graph.

The subpackages live in the repository's top-level folders (``pipeline/``, ``transforms/``,
``schemas/``, ``runners/``, ``runtime/``, ``ner/``, ``guide/``, ``refiner/``, ``kg/``,
``cli/``); setup.py maps them under this name.
"""
