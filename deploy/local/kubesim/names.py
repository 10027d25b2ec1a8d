"""Name, label and host rules with the exact messages of ``apimachinery/pkg/util/validation``.

Each function returns the list of problems (empty when valid), worded like ``IsDNS1123Label``,
``IsDNS1123Subdomain``, ``IsDNS1035Label``, ``IsQualifiedName`` and ``IsValidLabelValue``, so the
422 answers of the simulator read exactly like a cluster's.
"""

from __future__ import annotations

import ipaddress
import re

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"
WILDCARD_FMT = "\\*\\." + DNS1123_SUBDOMAIN_FMT

QUALIFIED_NAME_TEXT = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)


def _matches(fmt: str, value: str) -> bool:
    return re.fullmatch(fmt, value) is not None


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """``validation.RegexError``: the message, its examples and the regex used."""
    text = message + " (e.g. "
    for index, example in enumerate(examples):
        text += (" or " if index else "") + f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def _too_long(value: str, limit: int) -> list[str]:
    return [f"must be no more than {limit} characters"] if len(value) > limit else []


def dns1123_label_errors(value: str) -> list[str]:
    errors = _too_long(value, 63)
    if _matches(DNS1123_LABEL_FMT, value):
        return errors
    if _matches(DNS1123_SUBDOMAIN_FMT, value):
        return [*errors, "must not contain dots"]
    message = (
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
        "and must start and end with an alphanumeric character"
    )
    return [*errors, regex_error(message, DNS1123_LABEL_FMT, "my-name", "123-abc")]


def dns1123_subdomain_errors(value: str) -> list[str]:
    errors = _too_long(value, 253)
    if _matches(DNS1123_SUBDOMAIN_FMT, value):
        return errors
    message = (
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character"
    )
    return [*errors, regex_error(message, DNS1123_SUBDOMAIN_FMT, "example.com")]


def dns1035_label_errors(value: str) -> list[str]:
    errors = _too_long(value, 63)
    if _matches(DNS1035_LABEL_FMT, value):
        return errors
    message = (
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
        "an alphabetic character, and end with an alphanumeric character"
    )
    return [*errors, regex_error(message, DNS1035_LABEL_FMT, "my-name", "abc-123")]


def host_errors(value: str) -> list[str]:
    """Ingress hosts: a DNS-1123 subdomain, optionally with a ``*.`` prefix, never an IP."""
    if value.startswith("*."):
        if _matches(WILDCARD_FMT, value) and len(value) <= 253:
            return []
        message = (
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
            "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' "
            "and end with an alphanumeric character"
        )
        return [regex_error(message, WILDCARD_FMT, "*.example.com")]
    errors = dns1123_subdomain_errors(value)
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return errors
    return [*errors, "must be a DNS name, not an IP address"]


def label_key_errors(key: str) -> list[str]:
    """``IsQualifiedName``: an optional DNS subdomain prefix, ``/``, and a name part."""
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + regex_error(QUALIFIED_NAME_TEXT, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errors: list[str] = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        errors += ["prefix part " + m for m in dns1123_subdomain_errors(prefix) if prefix]
    name = parts[-1]
    if not name:
        return [*errors, "name part must be non-empty"]
    errors += ["name part " + m for m in _too_long(name, 63)]
    if not _matches(QUALIFIED_NAME_FMT, name):
        example = regex_error(
            QUALIFIED_NAME_TEXT, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc"
        )
        errors.append("name part " + example)
    return errors


def label_value_errors(value: str) -> list[str]:
    errors = _too_long(value, 63)
    if _matches(LABEL_VALUE_FMT, value):
        return errors
    message = (
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character"
    )
    return [*errors, regex_error(message, LABEL_VALUE_FMT, "MyValue", "my_value", "12345")]
