FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY kube2zk_job.py .
COPY lib/ lib/

USER 10001:10001
ENTRYPOINT ["python", "/app/kube2zk_job.py"]
