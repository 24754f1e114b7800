# The Arxiv Atlas app (API, CLI and ETL) for compose.yaml: Python 3.11, CPU-only torch, the web map
# bundled by Vite in a first stage. The database is another container (pgvector/pgvector:pg18).

FROM node:22-slim AS frontend
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# torch first, pinned and CPU-only: a bare requirement would pull a multi-GB CUDA build (as in the Makefile).
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
# The dependencies alone, so that a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt && pip install -r /tmp/requirements.txt
COPY alembic.ini ./
COPY app/ app/
COPY etl/ etl/
COPY sql/ sql/
COPY migrations/ migrations/
# Editable: the app finds sql/ and migrations/ beside its package.
RUN pip install --no-deps -e .
COPY --from=frontend /frontend/dist frontend/dist
RUN useradd --system --create-home atlas && mkdir -p /var/lib/atlas && chown atlas /var/lib/atlas
USER atlas
ENV ATLAS_DATA_DIR=/var/lib/atlas ATLAS_API_HOST=0.0.0.0 ATLAS_API_PORT=8000
# Caches the libraries write at run time (numba's compiled UMAP, Hugging Face), where the user may write.
ENV NUMBA_CACHE_DIR=/var/lib/atlas/cache/numba HF_HOME=/var/lib/atlas/cache/huggingface
EXPOSE 8000
CMD ["atlas", "serve"]
