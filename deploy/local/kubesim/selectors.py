"""Label selectors, parsed and matched like ``k8s.io/apimachinery/pkg/labels`` does.

``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x,y)``, ``a`` and ``!a``, comma separated
(all must hold); a malformed selector or an invalid key or value is a 400 like the real server
sends. Field selectors are not served: any ``fieldSelector`` is answered as a field the
resource does not support.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ApiError, bad_request
from .names import label_key_errors, label_value_errors

_WORD = r"[^\s!=(),<>]+"
_REQUIREMENT = re.compile(
    rf"\s*(?:!\s*(?P<absent>{_WORD})"
    rf"|(?P<key>{_WORD})\s*(?:(?P<op>==|!=|=)\s*(?P<value>{_WORD})?"
    rf"|\s(?P<set_op>in|notin)\s*\((?P<values>[^()]*)\))?)\s*(?P<end>,|$)"
)


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "in", "notin", "exists" or "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "!":
            return self.key not in labels
        if self.operator == "in":
            return labels.get(self.key) in self.values
        return labels.get(self.key) not in self.values


def _checked(key: str, values: list[str]) -> tuple[str, frozenset[str]]:
    problems = label_key_errors(key)
    if problems:
        raise bad_request(
            f'unable to parse requirement: key: Invalid value: "{key}": {"; ".join(problems)}'
        )
    for value in values:
        problems = label_value_errors(value)
        if problems:
            raise bad_request(
                f'unable to parse requirement: values[0][{key}]: Invalid value: "{value}": '
                f"{'; '.join(problems)}"
            )
    return key, frozenset(values)


def _parse(text: str) -> tuple[Requirement, ...]:
    requirements: list[Requirement] = []
    position = 0
    while position < len(text):
        match = _REQUIREMENT.match(text, position)
        if match is None or (match["end"] == "," and match.end() == len(text)):
            found = text[position:].strip() or "end of string"
            raise bad_request(f"unable to parse requirement: found '{found}', expected: identifier")
        position = match.end()
        if match["absent"]:
            requirements.append(Requirement(_checked(match["absent"], [])[0], "!"))
        elif match["op"]:
            key, values = _checked(match["key"], [match["value"] or ""])
            requirements.append(Requirement(key, "notin" if match["op"] == "!=" else "in", values))
        elif match["set_op"]:
            listed = [v.strip() for v in match["values"].split(",")] if match["values"] else []
            key, values = _checked(match["key"], listed)
            requirements.append(Requirement(key, match["set_op"], values))
        else:
            requirements.append(Requirement(_checked(match["key"], [])[0], "exists"))
    return tuple(requirements)


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...]

    @classmethod
    def parse(cls, text: str | None, field_selector: str | None = None) -> LabelSelector:
        if field_selector:
            field = re.split(r"==|!=|=", field_selector, maxsplit=1)[0]
            raise ApiError(400, "BadRequest", f"field label not supported: {field}")
        return cls(_parse(text or ""))

    def matches(self, labels: dict[str, str] | None) -> bool:
        present = labels or {}
        return all(requirement.matches(present) for requirement in self.requirements)
