"""Categories: unique names, derived slugs, product counts, no deletion behind the user's back."""

from __future__ import annotations

from httpx import AsyncClient

from tests.fixtures.factories import API, create_category, create_product


async def test_create_category_is_201_with_location_and_slug(
    admin_products_client: AsyncClient,
) -> None:
    response = await admin_products_client.post(
        f"{API}/categories", json={"name": "  Garden   Tools ", "description": "Outdoor"}
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["slug"], body["description"]) == (
        "Garden   Tools",
        "garden-tools",
        "Outdoor",
    )
    assert (body["product_count"], body["archived_product_count"]) == (0, 0)
    location = response.headers["location"]
    assert location.endswith(f"{API}/categories/{body['id']}")
    assert (await admin_products_client.get(location)).json() == body


async def test_category_name_is_unique_ignoring_case_and_spacing(
    admin_products_client: AsyncClient,
) -> None:
    await create_category(admin_products_client, "Garden Tools")
    response = await admin_products_client.post(f"{API}/categories", json={"name": "garden  TOOLS"})
    assert response.status_code == 409
    assert response.json()["code"] == "category_exists"
    assert (await admin_products_client.get(f"{API}/categories")).json()["total"] == 1


async def test_names_that_differ_by_accent_are_distinct_with_distinct_slugs(
    admin_products_client: AsyncClient,
) -> None:
    plain = await create_category(admin_products_client, "Cafe")
    accented = await create_category(admin_products_client, "Café")
    assert (plain["slug"], accented["slug"]) == ("cafe", "cafe-2")


async def test_list_categories_counts_active_and_archived_products(
    admin_products_client: AsyncClient,
) -> None:
    category = await create_category(admin_products_client, "Kitchen")
    await create_category(admin_products_client, "Attic")
    await create_product(admin_products_client, category_id=category["id"])
    archived = await create_product(admin_products_client, category_id=category["id"])
    await admin_products_client.delete(f"{API}/products/{archived['id']}")
    page = (await admin_products_client.get(f"{API}/categories")).json()
    counts = {c["name"]: (c["product_count"], c["archived_product_count"]) for c in page["items"]}
    assert counts == {"Attic": (0, 0), "Kitchen": (1, 1)}
    assert [c["name"] for c in page["items"]] == ["Attic", "Kitchen"]


async def test_rename_rederives_the_slug(admin_products_client: AsyncClient) -> None:
    category = await create_category(admin_products_client, "Toys")
    response = await admin_products_client.patch(
        f"{API}/categories/{category['id']}", json={"name": "Board Games"}
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["slug"]) == ("Board Games", "board-games")


async def test_rename_onto_another_category_name_is_409(admin_products_client: AsyncClient) -> None:
    await create_category(admin_products_client, "Toys")
    games = await create_category(admin_products_client, "Games")
    response = await admin_products_client.patch(
        f"{API}/categories/{games['id']}", json={"name": "TOYS"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "category_exists"
    assert (await admin_products_client.get(f"{API}/categories/{games['id']}")).json()[
        "name"
    ] == "Games"


async def test_changing_only_the_case_of_its_own_name_is_allowed(
    admin_products_client: AsyncClient,
) -> None:
    category = await create_category(admin_products_client, "toys")
    response = await admin_products_client.patch(
        f"{API}/categories/{category['id']}", json={"name": "Toys"}
    )
    assert response.json()["name"] == "Toys"


async def test_delete_empty_category_is_204_and_it_is_gone(
    admin_products_client: AsyncClient,
) -> None:
    category = await create_category(admin_products_client)
    response = await admin_products_client.delete(f"{API}/categories/{category['id']}")
    assert response.status_code == 204
    assert (
        await admin_products_client.get(f"{API}/categories/{category['id']}")
    ).status_code == 404


async def test_delete_category_with_archived_products_is_409_and_keeps_it(
    admin_products_client: AsyncClient,
) -> None:
    category = await create_category(admin_products_client)
    product = await create_product(admin_products_client, category_id=category["id"])
    await admin_products_client.delete(f"{API}/products/{product['id']}")
    response = await admin_products_client.delete(f"{API}/categories/{category['id']}")
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["product_count"]) == (
        "category_not_empty",
        1,
    )
    assert (
        await admin_products_client.get(f"{API}/categories/{category['id']}")
    ).status_code == 200


async def test_unknown_category_is_404(admin_products_client: AsyncClient) -> None:
    category = await create_category(admin_products_client)
    response = await admin_products_client.get(f"{API}/categories/{category['id'] + 1000}")
    assert response.status_code == 404
    assert response.json()["code"] == "category_not_found"
