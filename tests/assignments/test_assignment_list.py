"""GET /api/v1.0/customerEmployees: the envelope, paging, sorting, date and wildcard filters."""

from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote_plus, urlsplit

import pytest

from customer_api.assignments.models import CustomerEmployee
from tests.helpers import V1, assert_error, assign, create_customer, make_user

LIST = f"{V1}/customerEmployees"


async def listed(client, query: str = "") -> dict:
    response = await client.get(f"{LIST}{query}")
    assert response.status_code == 200, response.text
    return response.json()


async def customer_references(client, query: str = "") -> list[str | None]:
    return [row["customerReference"] for row in (await listed(client, query))["data"]]


async def test_envelope_and_assignment_shape_are_the_documented_ones(client) -> None:
    user = await make_user(client, "Ref 6654", organization="Lyon")
    customer = await create_customer(client, "Michel", customerNumber="C-001")
    created = await assign(client, user["id"], customer["id"])
    body = await listed(client)
    assert body["paging"] == {"total": 1, "max": 100, "offset": 0, "previous": None, "next": None}
    assert body["data"] == [created]
    assert list(created) == [
        "id",
        "customerReference",
        "employeeReference",
        "customer",
        "user",
        "organization",
        "dateCreated",
        "lastUpdated",
    ]
    assert created["customerReference"] == "C-001"
    assert created["employeeReference"] == "Ref 6654"
    assert created["customer"] == {
        "id": customer["id"],
        "reference": "C-001",
        "name": "Michel",
        "href": f"/api/v1.0/customers/{customer['id']}",
    }
    assert created["user"] == {
        "id": user["id"],
        "reference": "Ref 6654",
        "href": f"/api/v1.0/users/{user['id']}",
    }
    assert created["organization"] == "Lyon"
    datetime.strptime(created["dateCreated"], "%Y-%m-%dT%H:%M:%SZ")
    datetime.strptime(created["lastUpdated"], "%Y-%m-%dT%H:%M:%SZ")


async def test_every_href_resolves(client) -> None:
    user = await make_user(client, "U-1")
    customer = await create_customer(client, "Customer C-1", customerNumber="C-1")
    assignment = await assign(client, user["id"], customer["id"])
    assert (await client.get(assignment["customer"]["href"])).json()["reference"] == "C-1"
    assert (await client.get(assignment["user"]["href"])).json()["reference"] == "U-1"


async def test_empty_list(client) -> None:
    body = await listed(client)
    assert body == {
        "paging": {"total": 0, "max": 100, "offset": 0, "previous": None, "next": None},
        "data": [],
    }


# Paging


async def test_pages_follow_next_to_the_end_and_previous_back(client, acme, bulk_assign) -> None:
    await bulk_assign(acme.group_id, 7)
    seen, offsets, link = [], [], f"{LIST}?max=3"
    while link is not None:
        body = await listed(client, link.removeprefix(LIST))
        offsets.append(body["paging"]["offset"])
        assert body["paging"]["total"] == 7
        seen += [row["customerReference"] for row in body["data"]]
        link = body["paging"]["next"]
    assert offsets == [0, 3, 6]
    assert seen == [f"C-{index:05}" for index in range(7)]

    back, link = [], f"{LIST}?max=3&offset=6"
    while link is not None:
        body = await listed(client, link.removeprefix(LIST))
        back.append(body["paging"]["offset"])
        link = body["paging"]["previous"]
    assert back == [6, 3, 0]


async def test_links_echo_max_sort_order_and_the_filters_given(client, acme, bulk_assign) -> None:
    await bulk_assign(acme.group_id, 6)
    query = (
        "?max=2&offset=2&sort=customerReference&order=DESC&customerReference=C-*"
        "&employeeReference=U-BULK&dateCreated_gte=2016-08-15T14:52:48Z"
    )
    paging = (await listed(client, query))["paging"]
    expected = {
        "max": "2",
        "sort": "customerReference",
        "order": "desc",
        "customerReference": "C-*",
        "employeeReference": "U-BULK",
        "dateCreated_gte": "2016-08-15T14:52:48Z",
    }
    for link, offset in ((paging["previous"], "0"), (paging["next"], "4")):
        url = urlsplit(link)
        assert url.path == LIST
        assert dict(parse_qsl(url.query)) == {**expected, "offset": offset}
        assert "*" in url.query and ":" in url.query  # readable, not percent-encoded
    # The documented form: /api/v1.0/customerEmployees?max=5&sort=dateCreated&order=desc&offset=5
    paging = (await listed(client, "?max=5&order=desc"))["paging"]
    assert (
        paging["next"] == "/api/v1.0/customerEmployees?max=5&sort=dateCreated&order=desc&offset=5"
    )


async def test_links_never_carry_the_key(acme, anonymous, bulk_assign) -> None:
    await bulk_assign(acme.group_id, 3)
    response = await anonymous.get(f"{LIST}?max=1&api_key={acme.key}")
    assert response.status_code == 200
    assert acme.key not in response.json()["paging"]["next"]


async def test_max_defaults_to_100(client, acme, bulk_assign) -> None:
    await bulk_assign(acme.group_id, 101)
    first = await listed(client)
    assert len(first["data"]) == 100
    assert first["paging"]["next"] == f"{LIST}?max=100&sort=dateCreated&order=asc&offset=100"
    second = await listed(client, "?offset=100")
    assert [row["customerReference"] for row in second["data"]] == ["C-00100"]
    assert second["paging"]["next"] is None
    assert second["paging"]["previous"] == f"{LIST}?max=100&sort=dateCreated&order=asc&offset=0"


@pytest.mark.parametrize("requested", ["1001", "5000", "99999999999999999999"])
async def test_max_above_1000_is_served_as_1000(client, acme, bulk_assign, requested) -> None:
    await bulk_assign(acme.group_id, 3)
    paging = (await listed(client, f"?max={requested}"))["paging"]
    assert paging["max"] == 1000


async def test_offset_past_the_end_is_empty_and_leads_back(client, acme, bulk_assign) -> None:
    await bulk_assign(acme.group_id, 5)
    for offset in ("5", "250", "99999999999999999999"):
        body = await listed(client, f"?max=2&offset={offset}")
        assert body["data"] == []
        assert body["paging"]["total"] == 5
        assert body["paging"]["next"] is None
        assert body["paging"]["previous"].endswith("&offset=3")


@pytest.mark.parametrize(
    ("query", "code", "description"),
    [
        ("?max=abc", "invalid_param_type", None),
        ("?max=1.5", "invalid_param_type", None),
        ("?max=0x10", "invalid_param_type", None),
        ("?max=0", "invalid_param", None),
        ("?max=-1", "invalid_param", None),
        ("?max=-99999999999999999999", "invalid_param", None),
        ("?offset=-1", "invalid_param", None),
        ("?offset=abc", "invalid_param_type", None),
        ("?offset=1e3", "invalid_param_type", None),
        ("?sort=name", "invalid_param", None),
        ("?sort=customer_reference", "invalid_param", None),
        ("?order=up", "invalid_param", None),
        ("?order=1", "invalid_param", None),
    ],
)
async def test_bad_paging_is_400(client, query, code, description) -> None:
    name = query[1:].split("=")[0]
    body = assert_error(await client.get(f"{LIST}{query}"), 400, code, description)
    assert name in body["error_description"]


async def test_invalid_param_type_uses_the_documented_sentence(client) -> None:
    assert_error(
        await client.get(f"{LIST}?max=many"),
        400,
        "invalid_param_type",
        "The type of parameter max you provided is not valid for this request.",
    )


# Sorting


@pytest.fixture
async def three(client, set_times):
    """Three assignments: created in the order b, a, c (customer and user references alike)."""
    rows = {}
    for second, letter in ((11, "b"), (19, "a"), (26, "c")):
        user = await make_user(client, f"E-{letter}")
        customer = await create_customer(
            client, f"Customer C-{letter}", customerNumber=f"C-{letter}"
        )
        rows[letter] = await assign(client, user["id"], customer["id"])
        moment = datetime(2016, 8, 22, 9, 42, second, tzinfo=UTC)
        modified = datetime(2016, 8, 23, 9, 42, 60 - second, tzinfo=UTC)
        await set_times(CustomerEmployee, rows[letter]["id"], created=moment, modified=modified)
    return rows


@pytest.mark.parametrize(
    ("sort", "ascending"),
    [
        (None, ["b", "a", "c"]),
        ("dateCreated", ["b", "a", "c"]),
        ("id", ["b", "a", "c"]),
        ("lastUpdated", ["c", "a", "b"]),
        ("customerReference", ["a", "b", "c"]),
        ("employeeReference", ["a", "b", "c"]),
    ],
)
async def test_sort_and_order(client, three, sort, ascending) -> None:
    got, expected = {}, {}
    for order in (None, "asc", "ASC", "desc", "DESC", "Desc"):
        parts = [f"sort={sort}" if sort else "", f"order={order}" if order else ""]
        got[order] = await customer_references(client, "?" + "&".join(p for p in parts if p))
        letters = ascending[::-1] if order and order.lower() == "desc" else ascending
        expected[order] = [f"C-{letter}" for letter in letters]
    assert got == expected


async def test_ties_are_broken_by_id_in_the_same_direction(client, acme, bulk_assign) -> None:
    await bulk_assign(acme.group_id, 4)  # all created at the same moment
    ids = [row["id"] for row in (await listed(client))["data"]]
    assert ids == sorted(ids)
    ids = [row["id"] for row in (await listed(client, "?order=desc"))["data"]]
    assert ids == sorted(ids, reverse=True)


async def test_customers_without_reference_sort_last_then_first(client, three) -> None:
    user = await make_user(client, "E-z")
    customer = await create_customer(client, "No number")
    await assign(client, user["id"], customer["id"])
    ascending = await customer_references(client, "?sort=customerReference")
    assert ascending == ["C-a", "C-b", "C-c", None]
    descending = await customer_references(client, "?sort=customerReference&order=desc")
    assert descending == [None, "C-c", "C-b", "C-a"]


# Date filters


@pytest.fixture
async def timed(client, set_times):
    """A, B, C created at 09:42:11.000, 09:42:19.500 and 09:42:26.000 on 2016-08-22 and last
    updated at 10:00:05.000, 10:00:00.250 and 09:59:55.000."""
    times = {
        "A": ((11, 0), (10, 0, 5, 0)),
        "B": ((19, 500_000), (10, 0, 0, 250_000)),
        "C": ((26, 0), (9, 59, 55, 0)),
    }
    for reference, ((second, micro), (hour, minute, msecond, mmicro)) in times.items():
        user = await make_user(client, f"U-{reference}")
        customer = await create_customer(client, f"Customer {reference}", customerNumber=reference)
        row = await assign(client, user["id"], customer["id"])
        await set_times(
            CustomerEmployee,
            row["id"],
            created=datetime(2016, 8, 22, 9, 42, second, micro, tzinfo=UTC),
            modified=datetime(2016, 8, 22, hour, minute, msecond, mmicro, tzinfo=UTC),
        )


DATE_FILTER_CASES = [
    ("dateCreated_gt", "2016-08-22T09:42:11Z", "BC"),
    ("dateCreated_gt", "2016-08-22T09:42:19Z", "C"),  # B shows 09:42:19: not after
    ("dateCreated_gt", "2016-08-22T09:42:10.999Z", "ABC"),
    ("dateCreated_gte", "2016-08-22T09:42:11Z", "ABC"),
    ("dateCreated_gte", "2016-08-22T09:42:19Z", "BC"),
    ("dateCreated_gte", "2016-08-22T09:42:19.250Z", "C"),
    ("dateCreated_lt", "2016-08-22T09:42:19Z", "A"),
    ("dateCreated_lt", "2016-08-22T09:42:19.250Z", "AB"),
    ("dateCreated_lt", "2016-08-22T09:42:11Z", ""),
    ("dateCreated_lte", "2016-08-22T09:42:19Z", "AB"),
    ("dateCreated_lte", "2016-08-22T09:42:26Z", "ABC"),
    ("dateCreated_lte", "2016-08-22T09:42:25.999Z", "AB"),
    ("lastUpdated_gt", "2016-08-22T10:00:00Z", "A"),
    ("lastUpdated_gt", "2016-08-22T10:00:05Z", ""),
    ("lastUpdated_gte", "2016-08-22T10:00:00Z", "AB"),
    ("lastUpdated_lt", "2016-08-22T10:00:00Z", "C"),
    ("lastUpdated_lt", "2016-08-22T10:00:00.500Z", "BC"),
    ("lastUpdated_lte", "2016-08-22T10:00:00Z", "BC"),
    ("lastUpdated_lte", "2016-08-22T09:59:54Z", ""),
    ("dateCreated_gte", "2016-08-22", "ABC"),
    ("dateCreated_gte", "2016-08-23", ""),
]


async def test_each_date_filter(client, timed) -> None:
    got = {}
    for name, value, _ in DATE_FILTER_CASES:
        references = await customer_references(client, f"?{name}={value}&sort=customerReference")
        got[name, value] = "".join(references)
    assert got == {(name, value): expected for name, value, expected in DATE_FILTER_CASES}


async def test_shown_date_passed_back_excludes_that_row(client, timed) -> None:
    rows = (await listed(client))["data"]
    after_b = rows[1]["dateCreated"]
    assert "".join(await customer_references(client, f"?dateCreated_gt={after_b}")) == "C"


async def test_date_filters_combine(client, timed) -> None:
    query = "?dateCreated_gte=2016-08-22T09:42:11Z&dateCreated_lt=2016-08-22T09:42:26Z"
    assert (
        "".join(await customer_references(client, query + "&lastUpdated_gt=2016-08-22T10:00:00Z"))
        == "A"
    )
    assert "".join(await customer_references(client, query)) == "AB"


ACCEPTED_FORMS = [
    "2016-08-22T09:42:19Z",
    "2016-08-22T09:42:19z",
    "2016-08-22T09:42:19.000Z",
    "2016-08-22T09:42:19,000Z",
    "2016-08-22T09:42:19",
    "2016-08-22 09:42:19Z",
    "2016-08-22T11:42:19%2B02:00",
    "2016-08-22T11:42:19%2B0200",
    "2016-08-22T11:42:19%2B02",
    "2016-08-22T11:42:19+02:00",  # an unencoded "+" arrives as a space
    "2016-08-22T04:42:19-05:00",
    "2016-08-22T09:42:19-00:00",
]


async def test_iso_8601_forms_accepted(client, timed) -> None:
    got = {}
    for value in ACCEPTED_FORMS:
        got[value] = "".join(await customer_references(client, f"?dateCreated_gte={value}"))
    assert got == dict.fromkeys(ACCEPTED_FORMS, "BC")


async def test_minutes_without_seconds_are_accepted(client, timed) -> None:
    assert "".join(await customer_references(client, "?dateCreated_lt=2016-08-22T09:43Z")) == "ABC"


INVALID_DATES = [
    "2016-08-1Z",
    "2016-13-01T00:00:00Z",
    "2016-02-30",
    "2016-08-15T25:00:00Z",
    "2016-08-15T14:60:00Z",
    "2016-08-15T14:52:48+25:00",
    "2016-08-15T14:52:48+02:99",
    "2016-08-15T14:52:48.Z",
    "2016-08-15T14:52:48.1234567890Z",
    "2016-08-15T14Z",
    "2016-08-15T",
    "0000-01-01",
    "0001-01-01T00:00:00%2B01:00",
    "yesterday",
    "1471272768000",
    "\uff12\uff10\uff11\uff16-08-15",  # full-width digits
    "2016-08-15T14:52:48ZZ",
    "'; DROP TABLE customer_employees; --",
]


@pytest.mark.parametrize("name", ["dateCreated_gt", "dateCreated_lte", "lastUpdated_gte"])
async def test_invalid_dates_are_quoted(client, name) -> None:
    got, expected = {}, {}
    for value in INVALID_DATES:
        response = await client.get(f"{LIST}?{name}={value}")
        got[value] = (response.status_code, response.json())
        description = f"Invalid datetime filter (not ISO-8601 formatted): [{unquote_plus(value)}]"
        expected[value] = (
            400,
            {"error": "invalid_datetime_format", "error_description": description},
        )
    assert got == expected


async def test_the_documented_invalid_date(client) -> None:
    response = await client.get(f"{LIST}?dateCreated_gt=2016-08-1Z")
    assert response.json() == {
        "error": "invalid_datetime_format",
        "error_description": "Invalid datetime filter (not ISO-8601 formatted): [2016-08-1Z]",
    }


async def test_empty_filters_are_no_filters(client, timed) -> None:
    body = await listed(client, "?dateCreated_gt=&customerReference=&employeeReference=&max=")
    assert body["paging"]["total"] == 3
    assert "customerReference" not in (body["paging"]["next"] or "")


# Wildcards


WILDCARD_REFERENCES = [
    "Ref-60",
    "Ref-61",
    "XRef-6",
    "ref-6x",
    "50%_off",
    "50Xoff",
    "50%Yoff",
    "a_b",
    "aXb",
    "back\\slash",
    "backXslash",
    "[x]?",
    "q.*",
]


@pytest.fixture
async def wildcard_scene(client):
    for index, reference in enumerate(WILDCARD_REFERENCES):
        user = await make_user(client, reference)
        customer = await create_customer(client, f"Customer {index}", customerNumber=reference)
        await assign(client, user["id"], customer["id"])


WILDCARD_CASES = [
    ("Ref-6*", {"Ref-60", "Ref-61"}),
    ("*ef-6", {"XRef-6"}),
    ("*ef-6*", {"Ref-60", "Ref-61", "XRef-6", "ref-6x"}),
    ("Ref-60", {"Ref-60"}),
    ("Ref-6", set()),
    ("ref-6*", {"ref-6x"}),  # case-sensitive
    ("REF-6*", set()),
    ("50%*", {"50%_off", "50%Yoff"}),  # % is literal
    ("50%_*", {"50%_off"}),  # _ is literal
    ("*_*", {"50%_off", "a_b"}),
    ("a_b", {"a_b"}),
    ("*%*", {"50%_off", "50%Yoff"}),
    ("back\\*", {"back\\slash"}),  # \ is literal
    ("[x]*", {"[x]?"}),  # so are [ ] and ?
    ("*?", {"[x]?"}),
    ("q.*", {"q.*"}),  # "*" is always a wildcard: "q." then anything
    ("q*", {"q.*"}),
    ("R*f*0", {"Ref-60"}),
    ("*", set(WILDCARD_REFERENCES)),
    ("**", set(WILDCARD_REFERENCES)),
]


@pytest.mark.parametrize("parameter", ["customerReference", "employeeReference"])
async def test_wildcards(client, wildcard_scene, parameter) -> None:
    got = {}
    for pattern, _ in WILDCARD_CASES:
        body = await listed(client, f"?{parameter}={quote(pattern)}&max=1000")
        assert body["paging"]["total"] == len(body["data"])
        got[pattern] = {row[parameter] for row in body["data"]}
    assert got == dict(WILDCARD_CASES)


async def test_reference_filters_combine(client, wildcard_scene) -> None:
    body = await listed(client, "?customerReference=Ref-6*&employeeReference=*1")
    assert [row["customerReference"] for row in body["data"]] == ["Ref-61"]


# Parameters


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("?dateCreated_gta=2016-08-15T14:52:48Z", "dateCreated_gta"),
        ("?foo=1&bar=2", "foo, bar"),
        ("?foo=1&foo=2", "foo"),
        ("?Max=5", "Max"),
        ("?reference=x", "reference"),
        ("?max=5&customer_reference=x", "customer_reference"),
    ],
)
async def test_unknown_parameters_are_named(client, query, names) -> None:
    assert_error(
        await client.get(f"{LIST}{query}"),
        400,
        "invalid_param",
        f"The parameters [{names}] you provided are not valid for this request.",
    )


async def test_every_documented_parameter_is_accepted(client, timed) -> None:
    query = (
        "?offset=0&max=10&sort=id&order=asc&customerReference=*&employeeReference=*"
        "&dateCreated_gt=2000-01-01T00:00:00Z&dateCreated_gte=2000-01-01T00:00:00Z"
        "&dateCreated_lt=2100-01-01T00:00:00Z&dateCreated_lte=2100-01-01T00:00:00Z"
        "&lastUpdated_gt=2000-01-01T00:00:00Z&lastUpdated_gte=2000-01-01T00:00:00Z"
        "&lastUpdated_lt=2100-01-01T00:00:00Z&lastUpdated_lte=2100-01-01T00:00:00Z"
    )
    assert (await listed(client, query))["paging"]["total"] == 3


async def test_key_as_query_parameter_is_not_unknown(acme, anonymous) -> None:
    for name in ("api_key", "api_token"):
        response = await anonymous.get(f"{LIST}?{name}={acme.key}")
        assert response.status_code == 200, response.text


async def test_unknown_parameters_without_a_key_are_401(anonymous) -> None:
    assert_error(await anonymous.get(f"{LIST}?foo=1"), 401, "unauthorized")


@pytest.mark.parametrize("value", ["a\x00b", "x" * 201])
async def test_hostile_filter_values_are_400(client, value) -> None:
    response = await client.get(f"{LIST}?customerReference={quote(value)}")
    assert_error(response, 400, "invalid_param")


async def test_list_runs_a_constant_number_of_statements(
    client, acme, bulk_assign, count_statements
) -> None:
    await bulk_assign(acme.group_id, 30)
    await listed(client, "?max=1")  # the key is known from here on
    counts = []
    for query in (
        "?max=1",
        "?max=10",
        "?max=30",
        "?max=30&sort=employeeReference&customerReference=C-*",
    ):
        with count_statements() as counter:
            body = await listed(client, query)
        assert body["data"]
        counts.append(counter.count)
    assert counts == [2, 2, 2, 2]  # the count and the page
