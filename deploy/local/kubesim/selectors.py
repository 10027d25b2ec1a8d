"""Label and field selectors, parsed and matched like ``k8s.io/apimachinery`` does.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x,y)``, ``a``, ``!a``,
``a>1``, ``a<1``, comma separated (all must hold). Field selectors: ``f=v``, ``f==v``, ``f!=v``
on the fields each resource type supports; anything else is a 400 like the real server sends.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request
from .names import label_key_errors, label_value_errors
from .resources import ResourceType

_SPECIAL = set("!=(),<> \t\n")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("=", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            number, bound = int(str(value)), int(self.values[0])
        except ValueError:
            return False
        return number > bound if self.operator == "gt" else number < bound


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in " \t\n":
            index += 1
        elif text.startswith(("==", "!="), index):
            tokens.append(text[index : index + 2])
            index += 2
        elif char in "!=(),<>":
            tokens.append(char)
            index += 1
        else:
            start = index
            while index < len(text) and text[index] not in _SPECIAL:
                index += 1
            tokens.append(text[start:index])
    return tokens


def _is_identifier(token: str | None) -> bool:
    return token is not None and token not in {"!", "=", "==", "!=", "(", ")", ",", "<", ">"}


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        self.position += 1
        return token

    def fail(self, found: str | None, expected: str) -> ApiError:
        shown = "" if found is None else found
        return bad_request(f"unable to parse requirement: found '{shown}', expected: {expected}")

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while self.peek() is not None:
            requirements.append(self.requirement())
            token = self.take()
            if token is None:
                break
            if token != ",":
                raise self.fail(token, "',' or 'end of string'")
            if self.peek() is None:
                raise self.fail(None, "identifier")
        return requirements

    def requirement(self) -> Requirement:
        token = self.take()
        if token == "!":
            key = self.take()
            if not _is_identifier(key):
                raise self.fail(key, "identifier after '!'")
            assert key is not None
            self.check_key(key)
            return Requirement(key, "!")
        if not _is_identifier(token):
            raise self.fail(token, "! or identifier")
        assert token is not None
        key = token
        self.check_key(key)
        operator = self.peek()
        if operator is None or operator == ",":
            return Requirement(key, "exists")
        self.take()
        if operator in ("=", "==", "!="):
            value = self.peek()
            if value is None or value == ",":
                value = ""
            else:
                self.take()
                if not _is_identifier(value):
                    raise self.fail(value, "identifier")
            self.check_value(key, value)
            return Requirement(key, "!=" if operator == "!=" else "=", (value,))
        if operator in ("in", "notin"):
            return Requirement(key, operator, self.value_set(key))
        if operator in ("<", ">"):
            bound = self.take()
            if bound is None or not re.fullmatch(r"-?\d+", bound):
                raise bad_request(
                    f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be "
                    f"an integer, got {bound!r}"
                )
            return Requirement(key, "gt" if operator == ">" else "lt", (bound,))
        raise self.fail(operator, "'=', '!=', '==', 'in', notin'")

    def value_set(self, key: str) -> tuple[str, ...]:
        if self.take() != "(":
            raise self.fail(self.tokens[self.position - 1], "'('")
        values: list[str] = []
        while True:
            token = self.take()
            if token == ")" and not values:
                break
            if token in (",", ")"):
                values.append("")
            elif _is_identifier(token):
                assert token is not None
                values.append(token)
                token = self.take()
            else:
                raise self.fail(token, "',', ')' or identifier")
            if token == ")":
                break
            if token != ",":
                raise self.fail(token, "',' or ')'")
        for value in values:
            self.check_value(key, value)
        return tuple(values)

    @staticmethod
    def check_key(key: str) -> None:
        problems = label_key_errors(key)
        if problems:
            raise bad_request(
                f'unable to parse requirement: key: Invalid value: "{key}": {"; ".join(problems)}'
            )

    @staticmethod
    def check_value(key: str, value: str) -> None:
        problems = label_value_errors(value)
        if problems:
            raise bad_request(
                f'unable to parse requirement: values[0][{key}]: Invalid value: "{value}": '
                f"{'; '.join(problems)}"
            )


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...]

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        if not text:
            return cls(())
        return cls(tuple(_LabelParser(text).parse()))

    def matches(self, labels: dict[str, str] | None) -> bool:
        present = labels or {}
        return all(requirement.matches(present) for requirement in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def _field_reader(path: str) -> Callable[[dict[str, Any]], str]:
    section, _, name = path.partition(".")

    def read(obj: dict[str, Any]) -> str:
        value = (obj.get(section) or {}).get(name)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return read


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[tuple[str, bool, str], ...]  # (field, equal?, value)

    @classmethod
    def parse(cls, text: str | None, resource: ResourceType) -> FieldSelector:
        if not text:
            return cls(())
        terms: list[tuple[str, bool, str]] = []
        for raw in _split_unescaped(text):
            match = re.fullmatch(r"([^=!]+)(==|!=|=)(.*)", raw)
            if not match:
                raise bad_request(f"invalid selector: '{text}'; can't understand '{raw}'")
            field, operator, value = match.groups()
            if field not in resource.field_selectors:
                raise bad_request(f"field label not supported: {field}")
            terms.append((field, operator != "!=", _unescape(value)))
        return cls(tuple(terms))

    def matches(self, obj: dict[str, Any]) -> bool:
        for field, equal, value in self.terms:
            actual = _field_reader(field)(obj)
            if (actual == value) != equal:
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.terms


def _split_unescaped(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part]


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


@dataclass(frozen=True)
class Selection:
    """A label selector and a field selector together, as a list or watch request gives them."""

    labels: LabelSelector
    fields: FieldSelector

    def matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        return self.labels.matches(obj["metadata"].get("labels")) and self.fields.matches(obj)
