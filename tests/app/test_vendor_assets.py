"""Browser libraries come from node_modules (npm ci at make install), served by the app."""

import pytest

from app.vendor import ASSETS


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_each_listed_library_is_installed_and_served(client, login, rep, name):
    login(rep)
    response = client.get(f"/vendor/{name}")
    assert response.status_code == 200, f"{ASSETS[name]} missing: run make install"
    assert len(response.data) > 1000


def test_only_listed_files_are_served(client, login, rep):
    login(rep)
    assert client.get("/vendor/package.json").status_code == 404
    assert client.get("/vendor/..%2Fpackage.json").status_code == 404


def test_assets_need_a_signed_in_user(client):
    assert client.get("/vendor/chart.js").status_code in (302, 401)
