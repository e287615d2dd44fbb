# kbot's image: exactly the locked dependency set (requirements.lock, every file checked against its hash), the CPU
# build of torch among them, then kbot with its web files and the default knowledge base (seeds/).
# Built and run by compose.yaml; see the README's "Several replicas".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1
# Where pip finds torch 2.13.0+cpu, the CPU build the lock pins (PyPI's build of the same version pulls CUDA libraries
# of several GB). Point it at a mirror, or at a folder of wheels with --build-arg TORCH_INDEX=file:///wheels.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

WORKDIR /app
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps --extra-index-url "$TORCH_INDEX" -r requirements.lock

COPY pyproject.toml README.md ./
COPY src ./src
COPY web ./web
COPY seeds ./seeds
RUN pip install --no-deps . \
    && useradd --system --home-dir /app kbot \
    && mkdir -p /app/index && chown kbot /app/index

# kbot reads seeds/, web/ and index/ from its working directory.
USER kbot
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"
CMD ["kbot", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--no-build"]
