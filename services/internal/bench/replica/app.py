"""A replica of the prototype's sync route, for the benchmark.

The prototype's orchestrator (FastAPI + SQLAlchemy + httpx, one process)
served POST /connections/{id}/sync synchronously: it looked the connection
up in PostgreSQL, called Airbyte's POST /jobs with httpx, wrote a
job_history row and answered with the job. No queue, no coalescing, no
admission control: one Airbyte call per HTTP request, on the request's own
time. This replica does the same with the same libraries at their default
settings (SQLAlchemy's pool of 5 plus an overflow of 10, httpx's default
connection limits, FastAPI's thread pool for synchronous routes), against
the registry and the emulator of the aam dev under test, so that both
answer the same clients on the same machine.

Run by `aam bench` as:

    python3 app.py --host 127.0.0.1 --port PORT --database-url URL --airbyte-url URL

It prints "ready" on stdout once it serves.
"""

import argparse
import datetime
import uuid

import httpx
import uvicorn
from fastapi import FastAPI, HTTPException
from sqlalchemy import Column, DateTime, String, create_engine, select
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import declarative_base, sessionmaker

Base = declarative_base()


class Connection(Base):
    """The registry's connections table (the columns the route reads)."""

    __tablename__ = "connections"
    id = Column(UUID(as_uuid=True), primary_key=True)
    airbyte_connection_id = Column(String)


class JobHistory(Base):
    """The prototype's job_history table, kept apart from AAM's tables."""

    __tablename__ = "replica_job_history"
    id = Column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    connection_id = Column(UUID(as_uuid=True), nullable=False)
    airbyte_job_id = Column(String, nullable=False)
    status = Column(String, nullable=False)
    started_at = Column(DateTime(timezone=True), default=lambda: datetime.datetime.now(datetime.timezone.utc))


class AirbyteClient:
    """The prototype's Airbyte client: an OAuth2 token taken once, then
    one httpx call per operation."""

    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, timeout=60.0)
        r = self.http.post(
            "/api/public/v1/applications/token",
            json={"client_id": "aam-local", "client_secret": "aam-local-secret", "grant-type": "client_credentials"},
        )
        r.raise_for_status()
        self.headers = {"Authorization": "Bearer " + r.json()["access_token"]}

    def trigger_sync(self, airbyte_connection_id: str) -> dict:
        r = self.http.post(
            "/api/public/v1/jobs",
            json={"connectionId": airbyte_connection_id, "jobType": "sync"},
            headers=self.headers,
        )
        r.raise_for_status()
        return r.json()


def build_app(database_url: str, airbyte_url: str) -> FastAPI:
    engine = create_engine(database_url.replace("postgres://", "postgresql+psycopg2://", 1))
    JobHistory.__table__.create(engine, checkfirst=True)
    Session = sessionmaker(bind=engine)
    airbyte = AirbyteClient(airbyte_url)
    app = FastAPI(title="prototype-style orchestrator replica")

    @app.post("/connections/{connection_id}/sync")
    def trigger_sync(connection_id: uuid.UUID):
        with Session() as db:
            conn = db.execute(select(Connection).where(Connection.id == connection_id)).scalar_one_or_none()
            if conn is None or not conn.airbyte_connection_id:
                raise HTTPException(status_code=404, detail="Connection not found")
            try:
                job = airbyte.trigger_sync(conn.airbyte_connection_id)
            except httpx.HTTPError as e:
                raise HTTPException(status_code=500, detail=str(e))
            db.add(JobHistory(connection_id=connection_id, airbyte_job_id=str(job["jobId"]), status=job.get("status", "pending")))
            db.commit()
        return {
            "connection_id": str(connection_id),
            "job_id": str(job["jobId"]),
            "status": "triggered",
            "message": "Sync job started successfully",
        }

    @app.on_event("startup")
    def ready():
        print("ready", flush=True)

    return app


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--database-url", required=True)
    p.add_argument("--airbyte-url", required=True)
    a = p.parse_args()
    uvicorn.run(build_app(a.database_url, a.airbyte_url), host=a.host, port=a.port, workers=1,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
