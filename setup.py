"""Build the optional compiled pooling kernels (everything else is in pyproject.toml).

The extension is optional: without a C compiler the install still succeeds and pooling
runs on numpy/scipy (same results, slower). ``qdrant_tokenpool.pooling.compiled_kernels()``
tells which is in use.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "qdrant_tokenpool.pooling._kernels",
            ["qdrant_tokenpool/pooling/_kernels.pyx"],
            depends=["qdrant_tokenpool/pooling/_ward.h", "qdrant_tokenpool/pooling/_maxsim.h"],
            extra_compile_args=["-O3", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
