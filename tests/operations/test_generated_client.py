"""A client generated from the served OpenAPI document works: openapi-python-client makes every
operation without a warning, and the generated code talks to a real server, one family at a
time, reading each answer into the model the document names."""

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.live_server import LiveServer, live_server

pytestmark = pytest.mark.slow

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "customer_api_client"
OUTPUT = ("--meta", "none", "--output-path", PACKAGE)
# The thumbnail is image/jpeg or image/png: the generator reads those as bytes only when told.
GENERATOR_CONFIG = f"""\
project_name_override: customer-api-client
package_name_override: {PACKAGE}
post_hooks: []
content_type_overrides:
  image/jpeg: application/octet-stream
  image/png: application/octet-stream
"""
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d5d6a40000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("client-server")) as running:
        yield running


@pytest.fixture(scope="module")
def generation(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The generator's output for the served document, and the generated package."""
    workdir = tmp_path_factory.mktemp("client")
    document = httpx.get(f"{server.base_url}/openapi.json", timeout=30)
    (workdir / "openapi.json").write_bytes(document.content)
    (workdir / "config.yaml").write_text(GENERATOR_CONFIG)
    done = subprocess.run(
        [GENERATOR, "generate", "--path", "openapi.json", "--config", "config.yaml", *OUTPUT],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return {"done": done, "workdir": workdir}


@pytest.fixture(scope="module")
def client_package(generation: dict) -> Iterator[ModuleType]:
    sys.path.insert(0, str(generation["workdir"]))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(generation["workdir"]))
        for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def _operation(package: ModuleType, tag: str, name: str) -> ModuleType:
    return importlib.import_module(f"{package.__name__}.api.{tag}.{name}")


def _models(package: ModuleType) -> ModuleType:
    return importlib.import_module(f"{package.__name__}.models")


@pytest.fixture
def api(client_package: ModuleType, server: LiveServer):
    authenticated = client_package.AuthenticatedClient(
        base_url=server.base_url, token=server.first_key, prefix="", auth_header_name="API-Key"
    )
    with authenticated as client:
        yield client


def test_every_operation_is_generated_without_a_warning(generation: dict) -> None:
    done = generation["done"]
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "warning" not in output.lower(), output
    assert "unable to parse" not in output.lower(), output


def test_the_api_1_family_through_the_generated_client(client_package, api) -> None:
    models = _models(client_package)
    create = _operation(client_package, "customers", "create_customer_api_1_customer_post")
    body = models.CustomerCreate.from_dict(
        {"name": "Wendy Warner", "customerNumber": "G-1", "customerProjects": [{"name": "Roof"}]}
    )
    created = create.sync(client=api, body=body)
    assert isinstance(created, models.CustomerDetail)
    assert created.customer_projects[0].name == "Roof"
    listing = _operation(client_package, "customers", "list_customers_api_1_customer_get")
    listed = listing.sync(client=api, inactive="true")
    assert {type(item) for item in listed} == {models.CustomerRead}
    [mine] = [item for item in listed if item.uuid == created.uuid]
    assert mine.customer_number == "G-1" and mine.customer_projects[0].name == "Roof"


def test_the_vault_through_the_generated_client(client_package, api) -> None:
    models = _models(client_package)
    types = importlib.import_module(f"{client_package.__name__}.types")
    upload = _operation(client_package, "documents", "upload_content_api_1_document_content_post")
    file = types.File(payload=TINY_PNG, file_name="dot.png", mime_type="image/png")
    stored = upload.sync(client=api, body=models.UploadContentApi1DocumentContentPostBody(file))
    assert isinstance(stored, models.UploadRead) and stored.document.mime_type == "image/png"
    uuid = str(stored.document.uuid)
    content = _operation(
        client_package, "vault", "document_content_vault_document_document_uuid_get"
    )
    answer = content.sync_detailed(client=api, document_uuid=uuid)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.parsed.payload.read() == TINY_PNG
    thumbnail = _operation(
        client_package, "vault", "document_thumbnail_vault_thumbnail_document_uuid_get"
    )
    picture = thumbnail.sync_detailed(client=api, document_uuid=uuid)
    assert picture.headers["content-type"] in ("image/jpeg", "image/png")
    assert picture.parsed.payload.read()[:4] in (b"\xff\xd8\xff\xe0", b"\x89PNG")


def test_the_api_v1_0_family_through_the_generated_client(client_package, api) -> None:
    models = _models(client_package)
    customer = _operation(client_package, "customers", "create_customer_api_1_customer_post")
    customer.sync(client=api, body=models.CustomerCreate(name="Joe", customer_number="C-002"))
    user = _operation(client_package, "users", "create_user_api_v1_0_users_post")
    created_user = user.sync(client=api, body=models.UserCreate(reference="U-001", enabled=True))
    assert isinstance(created_user, models.UserRead) and created_user.enabled is True
    assign = _operation(
        client_package, "customer_employees", "create_assignment_api_v_1_0_customer_employees_post"
    )
    body = models.AssignmentWrite(user_id="U-001", customer_id="C-002", use_external_id=True)
    assignment = assign.sync(client=api, body=body)
    assert isinstance(assignment, models.AssignmentRead)
    assert (assignment.customer_reference, assignment.employee_reference) == ("C-002", "U-001")
    route = _operation(client_package, "routes", "create_route_api_v1_0_routes_post")
    body = models.RouteCreate(
        name="Monday", user_id=created_user.id, customer_ids=[assignment.customer.id]
    )
    created_route = route.sync(client=api, body=body)
    assert isinstance(created_route, models.RouteRead)
    assert created_route.customer_ids == [assignment.customer.id]
    listing = _operation(client_package, "customers_v1_0", "list_customers_api_v1_0_customers_get")
    page = listing.sync(client=api, is_active=True, reference="C-*")
    assert isinstance(page, models.CustomerRecordPage)
    assert [record.reference for record in page.data] == ["C-002"]


def test_webhooks_through_the_generated_client(client_package, api) -> None:
    listing = _operation(client_package, "webhooks", "list_webhooks_api_1_webhook_get")
    answer = listing.sync_detailed(client=api)
    assert answer.status_code in (200, 204)
