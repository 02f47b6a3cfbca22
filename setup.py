"""Installation of msnn_tf (``pip install -e .``)."""

from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
requirements = [line.strip() for line in (here / "requirements.txt").read_text().splitlines() if line.strip()]

setup(
    name="msnn-tf",
    version="0.1.0",
    description="Multi-stage neural networks of machine precision (Wang & Lai, J. Comput. Phys. 2024) for TensorFlow/Keras",
    long_description=(here / "README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["msnn_tf", "msnn_tf.*"]),
    python_requires=">=3.11",
    install_requires=requirements,
    # pip install -e ".[test]": the test tools, never a runtime dependency (pytest-xdist: pytest.ini runs the
    # default suite on two worker processes, one test file per worker at a time).
    extras_require={"test": ["pytest>=7", "pytest-xdist>=3"]},
    entry_points={"console_scripts": ["msnn-tf=msnn_tf.cli:main"]},
    license="MIT",
    license_files=["LICENSE"],
)
