# The image every remote greenpipe step runs in: KFP components use it as their base image and SageMaker
# Processing, Training and Tuning jobs as their container. Its tag is the package version:
#
#   docker build -t ghcr.io/greenpipe/greenpipe:0.1.0 .        (greenpipe/backends/image.py names this tag)
#
# It installs THIS checkout (COPY + pip install ".[kfp,sagemaker]"), not a wheel from PyPI: the compiled
# definitions carry each step's code fingerprint, and only the checkout they were compiled from is sure to have
# that code. Third-party versions are pinned below to the set the test suite ran with, so two builds of one
# checkout run the same libraries. The release workflow (.github/workflows/release.yml) builds it on each version
# tag and pushes it to ghcr.io and public.ecr.aws. A user's own code is NOT baked in: it travels as a code archive
# (greenpipe.backends.code_archive) that the entry point fetches and checks; `greenpipe image build` adds a
# project's requirements FROM this image. No ENTRYPOINT: KFP and SageMaker pass the command
# (`python -m greenpipe.run ...`); SageMaker tuning jobs, which cannot pass one, run `train` (below).
FROM python:3.11-slim

ARG GREENPIPE_VERSION=0.1.0
ARG EXTRAS=kfp,sagemaker

LABEL org.opencontainers.image.title="greenpipe" \
      org.opencontainers.image.version="${GREENPIPE_VERSION}" \
      org.opencontainers.image.source="https://github.com/greenpipe/greenpipe" \
      org.opencontainers.image.ref.name="ghcr.io/greenpipe/greenpipe:${GREENPIPE_VERSION}"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GREENPIPE_HOME=/tmp/greenpipe

COPY . /tmp/greenpipe-src

RUN pip install "/tmp/greenpipe-src[${EXTRAS}]" \
        "numpy==2.4.6" "pandas==3.1.1" "scipy==1.17.1" "scikit-learn==1.9.1" "psutil==7.2.2" \
        "blake3==1.0.11" "pyarrow==25.0.1" "duckdb==2.0.0" "optuna==5.0.0" "matplotlib==3.11.2" \
        "great-expectations==1.24.1" "menelaus==0.2.0" \
        "kfp==2.17.0" "kfp-kubernetes==2.17.0" \
        "sagemaker==3.27.0" "s3fs==2026.9.0" "boto3==1.43.117" "botocore==1.43.117" \
    && rm -rf /tmp/greenpipe-src \
    && python -c "import greenpipe, sys; sys.exit(greenpipe.__version__ != '${GREENPIPE_VERSION}')"

# SageMaker starts a tuning job's training containers as `docker run IMAGE train`: run the step named by the
# GREENPIPE_STEP environment variable that the compiled definition sets.
RUN printf '#!/bin/sh\nexec python -m greenpipe.run "$GREENPIPE_STEP" --sagemaker=training "$@"\n' \
        > /usr/local/bin/train \
    && chmod +x /usr/local/bin/train

WORKDIR /opt/ml
