"""The typed spec: docs/spec.schema.json is what the code builds, every preset fits it, a
standard validator and the code refuse the same wrongly typed values, and the code names the
field and the value (issue 27)."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from rrm.errors import SpecError
from rrm.presets import PRESETS, load_preset
from rrm.spec import _FIELD_RULES, NAME_PATTERN, Spec, json_schema
from scripts import spec_schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "docs" / "spec.schema.json"
VALIDATOR = jsonschema.Draft202012Validator(json_schema())


def test_published_schema_is_the_codes():
    assert SCHEMA_FILE.read_text() == spec_schema.text(), \
        "docs/spec.schema.json is stale: run python -m scripts.spec_schema"
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA_FILE.read_text()))


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_fits_the_schema(name):
    data = load_preset(name).to_dict()
    assert list(VALIDATOR.iter_errors(data)) == []
    assert json.loads(json.dumps(data)) == data


def tiny_with(path: str, value):
    data = load_preset("tiny").to_dict()
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    return data


# (where, value, the field the error names); a standard validator refuses them too
# except 3.0/2.0, which JSON Schema counts as integers (the code does not: 3.0 == 3 let
# them through membership tests and crash later).
WRONG_TYPES = [
    ("hardware.kernel", 3.0, "hardware.kernel"),
    ("hardware.kernel", True, "hardware.kernel"),
    ("hardware.kernel", "3", "hardware.kernel"),
    ("network.blocks[1][1]", 2.0, "network.blocks[1].stride"),
    ("network.blocks[1][1]", True, "network.blocks[1].stride"),
    ("network.blocks[0][0]", 64.0, "network.blocks[0].channels"),
    ("network.input_size", 32.0, "network.input_size"),
    ("network.input_size", False, "network.input_size"),
    ("network.num_classes", None, "network.num_classes"),
    ("network.width_multiplier", "0.25", "network.width_multiplier"),
    ("network.width_multiplier", True, "network.width_multiplier"),
    ("network.pruned_channels.dsc7", 36.0, "network.pruned_channels.dsc7"),
    ("quant.weight_bits", [8], "quant.weight_bits"),
    ("quant.clip_min", None, "quant.clip_min"),
    ("hardware.serial_bn", 1, "hardware.serial_bn"),
    ("hardware.serial_bn", "false", "hardware.serial_bn"),
    ("hardware.device", ["xczu3eg"], "hardware.device"),
    ("hardware.device", {"a": 1}, "hardware.device"),
    ("hardware.tiling", {"conv1": {"ti": 1.0, "tj": 1, "tn": 1, "tm": 8}}, "hardware.tiling.conv1.ti"),
    ("network.name", 7, "network.name"),
    ("network.name", "tiny\nputs INJECTED", "network.name"),
    ("network.name", "a b", "network.name"),
    ("network.name", "", "network.name"),
    ("network.name", "x" * 65, "network.name"),
    ("network.name", "-starts-with-dash", "network.name"),
    ("network.name", "tab\there", "network.name"),
    ("network.name", "tiny\r", "network.name"),
    ("network.name", "tiny\n", "network.name"),
    ("network.name", "bell\x07", "network.name"),
    ("network.name", "caf\u00e9", "network.name"),
    ("network.name", "[exec rm]", "network.name"),
    ("preset", "tiny\n#", "preset"),
    ("preset", 3, "preset"),
]


@pytest.mark.parametrize("where, value, field", WRONG_TYPES)
def test_wrong_types_are_refused_naming_field_and_value(where, value, field):
    data = tiny_with(where, value)
    with pytest.raises(SpecError) as info:
        Spec.from_dict(copy.deepcopy(data))
    assert info.value.field == field
    message = str(info.value)
    assert "\n" not in message and field in message
    if not isinstance(value, dict):
        shown = json.dumps(value) if isinstance(value, bool) or value is None else repr(value)[:20]
        assert shown in message or "..." in message
    integral_float = isinstance(value, float) and value.is_integer() or (
        isinstance(value, dict) and "ti" in json.dumps(value) and "1.0" in json.dumps(value))
    # Python's re lets "$" match before a final newline (an ECMA regex, as editors use, does not)
    python_dollar = isinstance(value, str) and value.endswith("\n") and "\n" not in value[:-1]
    if not integral_float and not python_dollar:
        assert list(VALIDATOR.iter_errors(data)), (where, value, "the schema accepts it")


def test_json_text_typed_values_are_refused():
    text = load_preset("tiny").to_json().replace('"kernel": 3', '"kernel": 3.0')
    with pytest.raises(SpecError, match=r"hardware\.kernel.*must be an integer, got 3\.0"):
        Spec.from_json(text)
    text = load_preset("tiny").to_json().replace('"serial_bn": false', '"serial_bn": 0')
    text = load_preset("tiny").to_json().replace('"kernel": 3', '"kernel": true')
    with pytest.raises(SpecError, match=r"hardware\.kernel.*must be an integer, got true"):
        Spec.from_json(text)


@pytest.mark.parametrize("text, message", [
    ("[" * 100 + "]" * 100, "nested too deeply"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"a": ' + "9" * 5000 + "}", "integer of 5,000 digits"),
    ('{"a": -' + "9" * 41 + "}", "integer of 41 digits"),
])
def test_bounded_json(text, message):
    with pytest.raises(SpecError, match=message) as info:
        Spec.from_json(text)
    assert "\n" not in str(info.value)


def test_non_finite_numbers_are_refused():
    data = tiny_with("network.width_multiplier", float("nan"))
    with pytest.raises(SpecError, match="network.width_multiplier.*finite"):
        Spec.from_dict(data)
    data = tiny_with("hardware.clock_mhz", 10 ** 400)
    with pytest.raises(SpecError, match="hardware.clock_mhz.*finite"):
        Spec.from_dict(data)


def test_preset_names_fit_the_name_pattern():
    import re
    for name in PRESETS:
        spec = load_preset(name)
        assert re.fullmatch(NAME_PATTERN[1:-1], spec.network.name) and re.fullmatch(NAME_PATTERN[1:-1], name)


@pytest.mark.parametrize("where", sorted(k for k, v in _FIELD_RULES.items() if "minimum" in v or "maximum" in v))
def test_schema_bounds_are_the_codes(where):
    """Just past each bound the schema states, the code refuses the value naming the field."""
    rules = _FIELD_RULES[where]
    integer = VALIDATOR.schema["properties"][where.split(".")[0]]["properties"][where.split(".")[1]]["type"] == "integer"
    step = 1 if integer else 1e-3
    outside = []
    if "minimum" in rules:
        outside.append(rules["minimum"] - step)
    if "exclusiveMinimum" in rules:
        outside.append(rules["exclusiveMinimum"])
    if "maximum" in rules:
        outside.append(rules["maximum"] + step)
    for value in outside:
        data = tiny_with(where, value)
        assert list(VALIDATOR.iter_errors(data))
        with pytest.raises(SpecError) as info:
            Spec.from_dict(data)
        assert info.value.field == where, (where, value, str(info.value))
