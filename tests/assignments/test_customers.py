"""/api/v1.0/customers: the customers of /api/1, read-only, as this family shows them."""

from datetime import UTC, datetime

import pytest

from customer_api.customers.models import Customer
from tests.helpers import V1, assert_error, create_customer

CUSTOMERS = f"{V1}/customers"
FIELDS = [
    "id",
    "reference",
    "name",
    "email",
    "phone",
    "mobile",
    "address",
    "postalCode",
    "city",
    "country",
    "latitude",
    "longitude",
    "isActive",
    "organization",
    "dateCreated",
    "lastUpdated",
]


async def test_fields_map_to_the_api_1_customer(client) -> None:
    original = await create_customer(
        client,
        "Michel",
        customerNumber="C-001",
        email="m@example.com",
        phone="+33 1",
        mobile="+33 6",
        address="1 rue de Lyon",
        postalCode="69001",
        city="Lyon",
        country="FR",
        latitude=45.76,
        longitude=4.83,
        organization="Lyon",
        active=False,
    )
    shown = (await client.get(f"{CUSTOMERS}/{original['id']}")).json()
    assert list(shown) == FIELDS
    assert shown["reference"] == "C-001"
    assert shown["isActive"] is False
    for field in ("name", "email", "phone", "mobile", "address", "postalCode", "city"):
        assert shown[field] == original[field]
    assert shown["latitude"] == 45.76
    created = datetime.fromtimestamp(original["created"] / 1000, tz=UTC)
    assert shown["dateCreated"] == created.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (await client.get(f"{CUSTOMERS}/reference/C-001")).json() == shown


async def test_not_found_and_bad_ids(client) -> None:
    assert_error(
        await client.get(f"{CUSTOMERS}/5"),
        404,
        "not_found",
        "The customer with the id 5 doesn't exist.",
    )
    assert_error(
        await client.get(f"{CUSTOMERS}/reference/none"),
        404,
        "not_found",
        "The customer with the reference none doesn't exist.",
    )
    assert_error(await client.get(f"{CUSTOMERS}/C-001"), 400, "invalid_param_type")


async def test_read_only(client) -> None:
    customer = await create_customer(client, "Customer C-1", customerNumber="C-1")
    assert_error(await client.post(CUSTOMERS, json={"name": "x"}), 405, "method_not_allowed")
    assert_error(await client.delete(f"{CUSTOMERS}/{customer['id']}"), 405, "method_not_allowed")


@pytest.fixture
async def shop(client, set_times):
    rows = {}
    specs = [("C-2", "Bravo", True), ("C-1", "Alpha", False), (None, "Charlie", True)]
    for second, (reference, name, active) in enumerate(specs):
        row = await create_customer(client, name, customerNumber=reference, active=active)
        moment = datetime(2021, 5, 1, 12, 0, second, tzinfo=UTC)
        await set_times(Customer, row["id"], created=moment, modified=moment)
        rows[name] = row
    return rows


def names(body) -> list[str]:
    return [row["name"] for row in body["data"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Bravo", "Alpha", "Charlie"]),
        ("?sort=name", ["Alpha", "Bravo", "Charlie"]),
        ("?sort=name&order=desc", ["Charlie", "Bravo", "Alpha"]),
        ("?sort=reference", ["Alpha", "Bravo", "Charlie"]),
        ("?sort=reference&order=desc", ["Charlie", "Bravo", "Alpha"]),
        ("?sort=id&order=desc", ["Charlie", "Alpha", "Bravo"]),
        ("?sort=lastUpdated", ["Bravo", "Alpha", "Charlie"]),
        ("?isActive=true", ["Bravo", "Charlie"]),
        ("?isActive=FALSE", ["Alpha"]),
        ("?isActive=0", ["Alpha"]),
        ("?reference=C-*", ["Bravo", "Alpha"]),
        ("?reference=C-1", ["Alpha"]),
        ("?name=*r*", ["Bravo", "Charlie"]),
        ("?name=*A*", ["Alpha"]),
        ("?name=A*&isActive=false", ["Alpha"]),
        ("?dateCreated_gt=2021-05-01T12:00:00Z", ["Alpha", "Charlie"]),
        ("?lastUpdated_lte=2021-05-01T12:00:01Z", ["Bravo", "Alpha"]),
    ],
)
async def test_list_sort_and_filters(client, shop, query, expected) -> None:
    response = await client.get(f"{CUSTOMERS}{query}")
    assert response.status_code == 200, response.text
    assert names(response.json()) == expected


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?isActive=maybe", "invalid_param_type"),
        ("?sort=customerReference", "invalid_param"),
        ("?customerReference=C-1", "invalid_param"),
        ("?inactive", "invalid_param"),
        ("?dateCreated_gt=2021-05-01T12:00:00", None),
        ("?dateCreated_gt=2021-05-01X", "invalid_datetime_format"),
    ],
)
async def test_bad_list_parameters(client, shop, query, code) -> None:
    response = await client.get(f"{CUSTOMERS}{query}")
    if code is None:
        assert response.status_code == 200
    else:
        assert_error(response, 400, code)


async def test_list_runs_a_constant_number_of_statements(client, count_statements) -> None:
    for index in range(8):
        await create_customer(
            client,
            f"Customer C-{index}",
            customerNumber=f"C-{index}",
            customerProjects=[{"name": "p"}],
        )
    counts = []
    for max_ in (1, 4, 8):
        with count_statements() as counter:
            assert len((await client.get(f"{CUSTOMERS}?max={max_}")).json()["data"]) == max_
        counts.append(counter.count)
    assert counts == [2, 2, 2]  # the count and the page (the key is known by then)
