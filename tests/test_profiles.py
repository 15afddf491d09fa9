"""SMTP profiles: validation, presets, the TOML file under DOCMAIL_HOME."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from docmail_nb._store import profiles
from docmail_nb._store.presets import PRESETS, USUAL_PORT
from docmail_nb._store.profiles import (
    Profile,
    list_profiles,
    load_profile,
    profile_from_preset,
    profiles_file,
    remove_profile,
    save_profile,
)
from docmail_nb.errors import ProfileError


def test_home_comes_from_the_environment(docmail_home: Path) -> None:
    assert profiles.docmail_home() == docmail_home
    assert profiles_file() == docmail_home / "profiles.toml"


def test_home_defaults_to_the_user_config_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DOCMAIL_HOME")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert profiles.docmail_home() == tmp_path / "config" / "docmail_nb"


def test_save_load_round_trip() -> None:
    profile = Profile(
        "büro",
        "smtp.example.ch",
        465,
        "ssl",
        "anna@example.ch",
        from_addr='"Bergmann, Anna" <anna@example.ch>',
        reply_to="buchhaltung@example.ch",
        ca_file="/etc/ssl/company-ca.pem",
        timeout=12.5,
    )
    path = save_profile(profile)
    assert path == profiles_file()
    assert load_profile("büro") == profile
    assert tomllib.loads(path.read_text("utf-8"))["profiles"]["büro"]["port"] == 465


@pytest.mark.parametrize(
    "from_addr",
    ['"Bergmann 😀 Werkstatt" <anna@example.ch>', '"Back\\slash, \\"Q\\"" <a@example.ch>'],
)
def test_any_display_name_survives_the_file(from_addr: str) -> None:
    profile = Profile("office", "smtp.example.ch", username="anna@example.ch", from_addr=from_addr)
    save_profile(profile)
    assert load_profile("office") == profile


def test_saving_replaces_and_keeps_others() -> None:
    save_profile(Profile("a", "smtp.a.example"))
    save_profile(Profile("b", "smtp.b.example"))
    save_profile(Profile("a", "smtp.a2.example", 465, "ssl"))
    assert [(p.name, p.host) for p in list_profiles()] == [
        ("a", "smtp.a2.example"),
        ("b", "smtp.b.example"),
    ]


def test_load_without_name_needs_exactly_one_profile() -> None:
    with pytest.raises(ProfileError, match="No SMTP profile") as none:
        load_profile()
    assert "docmail profile add" in none.value.hint
    save_profile(Profile("only", "smtp.example.ch"))
    assert load_profile().name == "only"
    save_profile(Profile("second", "smtp.example.ch"))
    with pytest.raises(ProfileError, match="only, second") as two:
        load_profile()
    assert "--profile" in two.value.hint


def test_unknown_profile_names_the_known_ones() -> None:
    save_profile(Profile("office", "smtp.example.ch"))
    with pytest.raises(ProfileError, match=r"'home'.*office"):
        load_profile("home")
    with pytest.raises(ProfileError, match="'home'"):
        remove_profile("home")


def test_remove_profile() -> None:
    save_profile(Profile("office", "smtp.example.ch"))
    remove_profile("office")
    assert list_profiles() == []


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"name": "bad name"}, "profile name"),
        ({"host": ""}, "host"),
        ({"host": "smtp example"}, "host"),
        ({"security": "tls"}, "unknown security"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"timeout": 0}, "timeout"),
        ({"preset": "yahoo"}, "unknown preset"),
        ({"from_addr": "a@b.example\nBcc: x@evil.example"}, "line break"),
    ],
)
def test_invalid_settings_are_refused(settings: dict[str, object], match: str) -> None:
    values: dict[str, object] = {"name": "office", "host": "smtp.example.ch"}
    values.update(settings)
    with pytest.raises(ProfileError, match=match) as caught:
        Profile(**values)  # type: ignore[arg-type]
    assert caught.value.exit_code == 2


def test_a_broken_file_is_a_profile_error(docmail_home: Path) -> None:
    docmail_home.mkdir(parents=True)
    (docmail_home / "profiles.toml").write_text("[profiles.x\nhost=", encoding="utf-8")
    with pytest.raises(ProfileError, match="cannot be read"):
        list_profiles()
    (docmail_home / "profiles.toml").write_text(
        '[profiles.x]\nhost = "h"\npassword = "no"\n', encoding="utf-8"
    )
    with pytest.raises(ProfileError, match="unknown settings: password"):
        list_profiles()


def test_sender_defaults_to_an_address_username() -> None:
    assert Profile("a", "h", username="anna@example.ch").sender == "anna@example.ch"
    assert Profile("a", "h", username="anna").sender == ""
    assert Profile("a", "h", username="anna", from_addr="a@b.example").sender == "a@b.example"


def test_presets_carry_provider_limits() -> None:
    assert {"generic", "gmail", "google_workspace", "microsoft365"} <= set(PRESETS)
    m365 = profile_from_preset("work", "microsoft365", username="anna@example.ch")
    assert (m365.host, m365.port, m365.security) == ("smtp.office365.com", 587, "starttls")
    assert m365.limits.messages_per_minute == 30
    assert m365.limits.max_connections == 3
    assert m365.limits.recipients_per_day == 10000
    workspace = PRESETS["google_workspace"]
    assert workspace.limits.messages_per_day == 2000
    assert workspace.limits.recipients_per_message == 100
    assert Profile("a", "h").limits == PRESETS["generic"].limits
    assert profile_from_preset("g", "gmail", port=587, security="starttls").port == 587
    assert USUAL_PORT == {"ssl": 465, "starttls": 587, "none": 25}
    with pytest.raises(ProfileError, match="Known presets"):
        profile_from_preset("x", "aol")
