"""A local Azure Blob server (Azurite, from npm) on 127.0.0.1 for object-store tests, and a client of it.

Azurite is found on ``$MMFEAT_AZURITE``, in ``.ci/node`` (where ``make test`` installs
it) or on the PATH; tests that need it skip when it is not there.
"""
import os
import shutil
import uuid
from pathlib import Path

from tests.local_server import free_port, start, stop

# Azurite's fixed development account (public, documented by Microsoft): not a secret.
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
REPO = Path(__file__).resolve().parent.parent


def find_azurite() -> str | None:
    for candidate in (os.environ.get("MMFEAT_AZURITE"), REPO / ".ci" / "node" / "node_modules" / ".bin" / "azurite-blob",
                      shutil.which("azurite-blob")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


class AzuriteServer:
    """``azurite-blob`` in a child process, in memory; ``container()`` makes a fresh, empty container."""

    def __init__(self, executable: str):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}/{ACCOUNT}"
        self.proc = start([executable, "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
                           "--inMemoryPersistence", "--skipApiVersionCheck", "--silent"], self.port,
                          f"Azurite ({executable})")

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"BlobEndpoint={self.endpoint};")

    def env(self) -> dict:
        """Environment variables under which adlfs (and so mmfeat) reaches this server."""
        return {"AZURE_STORAGE_CONNECTION_STRING": self.connection_string}

    def _service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def container(self) -> str:
        name = f"c-{uuid.uuid4().hex[:12]}"
        self._service().create_container(name)
        return name

    def objects(self, container: str, prefix: str = "") -> dict[str, bytes]:
        """Every blob of a container (under ``prefix``): name -> bytes."""
        client = self._service().get_container_client(container)
        return {b.name: client.download_blob(b.name).readall() for b in client.list_blobs(name_starts_with=prefix)}

    def put(self, container: str, name: str, data: bytes) -> None:
        self._service().get_container_client(container).upload_blob(name, data, overwrite=True)

    def stop(self):
        stop(self.proc)
