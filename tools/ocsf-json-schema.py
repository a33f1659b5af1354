#!/usr/bin/env python3
"""Writes a JSON Schema (draft 2020-12) for one OCSF event class from the OCSF schema sources.

The OCSF schema (https://github.com/ocsf/ocsf-schema, Apache-2.0, (c) the OCSF project) is
written as JSON files that extend and include one another: a dictionary of attributes and
data types, objects, event classes, categories and profiles. This script resolves them the
way the OCSF server does for a class and its objects, and writes what an event of the class
may and must hold:

- every attribute of the class and of each object it reaches, with its type (`string_t` and
  the types derived from it are strings, `integer_t`/`long_t`/`timestamp_t`/`port_t`
  integers, `float_t` numbers, `boolean_t` booleans, `json_t` anything, objects by `$ref`),
  arrays where the dictionary says `is_array`;
- the integer enumerations (`*_id`; an observable's `type_id` from the numbers the data
  types, attributes and objects declare), `required` attributes, and the objects' `at_least_one`
  and `just_one` constraints;
- `class_uid`, `category_uid` and `type_uid` fixed to the class's values;
- attributes of profiles are allowed, and optional (a profile's required attributes are
  required only where the profile is applied, which `metadata.profiles` names);
- no attribute the schema does not define (`additionalProperties: false`), except in the
  generic `object` type (`unmapped`, `vendor_attributes`, ...).

Not checked: the regular expressions of derived string types, deprecated attributes (still
allowed), sibling captions matching their ids.

Usage: ocsf-json-schema.py OCSF_SCHEMA_DIR CLASS_NAME > out.schema.json
       (OCSF_SCHEMA_DIR: a checkout or `git archive` of a release tag, e.g. 1.8.0)
"""

import json
import os
import sys

PRIMITIVES = {
    "string_t": {"type": "string"},
    "integer_t": {"type": "integer"},
    "long_t": {"type": "integer"},
    "float_t": {"type": "number"},
    "boolean_t": {"type": "boolean"},
    "json_t": {},
    "object_t": {"type": "object"},
}


def load(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return json.load(f)


def merge_attr(base, over):
    out = dict(base)
    for k, v in over.items():
        if k == "enum" and isinstance(v, dict) and isinstance(out.get("enum"), dict):
            e = dict(out["enum"])
            e.update(v)
            out["enum"] = e
        else:
            out[k] = v
    return out


def attributes_of(root, doc, index, seen=()):
    """The attributes of an object or class document, its parents and includes resolved."""
    attrs = {}
    parent = doc.get("extends")
    if parent:
        if parent in seen:
            raise SystemExit(f"extends cycle at {parent}")
        attrs = attributes_of(root, index[parent], index, seen + (parent,))
    own = dict(doc.get("attributes", {}))
    for inc in own.pop("$include", []):
        included = load(root, inc)
        profile = included.get("meta") == "profile"
        for name, a in included.get("attributes", {}).items():
            if profile and a.get("requirement") == "required":
                # A profile's attributes are required only where the profile is applied.
                a = dict(a, requirement="optional")
            attrs[name] = merge_attr(attrs.get(name, {}), a)
    for name, a in own.items():
        attrs[name] = merge_attr(attrs.get(name, {}), a)
    return attrs


def base_type(types, t):
    while t not in PRIMITIVES:
        nxt = types.get(t, {}).get("type")
        if nxt is None:
            raise SystemExit(f"unknown type {t}")
        t = nxt
    return t


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    root, class_name = sys.argv[1], sys.argv[2]
    dictionary = load(root, "dictionary.json")
    dict_attrs = dictionary["attributes"]
    types = dictionary["types"]["attributes"]
    version = load(root, "version.json")["version"]
    categories = load(root, "categories.json")["attributes"]

    objects = {}
    for f in sorted(os.listdir(os.path.join(root, "objects"))):
        if f.endswith(".json"):
            d = load(root, os.path.join("objects", f))
            objects[d["name"]] = d
    events = {}
    for dirpath, _, files in os.walk(os.path.join(root, "events")):
        for f in sorted(files):
            if f.endswith(".json"):
                d = load(root, os.path.relpath(os.path.join(dirpath, f), root))
                events[d["name"]] = d

    defs = {}
    pending = []

    def schema_of_attr(name, a):
        full = merge_attr(dict_attrs.get(name, {}), a)
        t = full.get("type")
        if t is None:
            raise SystemExit(f"attribute {name} has no type")
        if t in types or t in PRIMITIVES:
            s = dict(PRIMITIVES[base_type(types, t)])
            if full.get("enum") and s.get("type") == "integer":
                s["enum"] = sorted(int(k) for k in full["enum"])
        else:
            if t not in objects:
                raise SystemExit(f"attribute {name}: unknown object {t}")
            if t not in defs and t not in pending:
                pending.append(t)
            s = {"$ref": f"#/$defs/{t}"}
        if full.get("is_array"):
            s = {"type": "array", "items": s}
        return s, full.get("requirement") == "required"

    def object_schema(attrs, constraints, open_ended=False):
        props, required = {}, []
        for name in sorted(attrs):
            s, req = schema_of_attr(name, attrs[name])
            props[name] = s
            if req:
                required.append(name)
        out = {"type": "object", "properties": props}
        if required:
            out["required"] = required
        if not open_ended:
            out["additionalProperties"] = False
        if constraints.get("at_least_one"):
            out["anyOf"] = [{"required": [n]} for n in constraints["at_least_one"]]
        if constraints.get("just_one"):
            out["oneOf"] = [{"required": [n]} for n in constraints["just_one"]]
        return out

    def constraints_of(doc, index):
        c = doc.get("constraints") or {}
        parent = doc.get("extends")
        while not c and parent:
            c = index[parent].get("constraints") or {}
            parent = index[parent].get("extends")
        return c

    cls = events[class_name]
    attrs = attributes_of(root, cls, events)
    category = None
    d = cls
    while d is not None and category is None:
        category = d.get("category")
        d = events.get(d.get("extends")) if d.get("extends") else None
    category_uid = categories[category]["uid"]
    class_uid = category_uid * 1000 + cls["uid"]
    top = object_schema(attrs, constraints_of(cls, events))
    activities = sorted(int(k) for k in attrs["activity_id"]["enum"])
    top["properties"]["class_uid"] = {"const": class_uid}
    top["properties"]["category_uid"] = {"const": category_uid}
    top["properties"]["type_uid"] = {"enum": [class_uid * 100 + a for a in activities]}

    # The observable type ids are not listed in the observable object: each data type,
    # dictionary attribute and object that is observable declares its number.
    observable_ids = {0, 99}
    for source in (types, dict_attrs, objects):
        for v in source.values():
            if isinstance(v, dict) and isinstance(v.get("observable"), int):
                observable_ids.add(v["observable"])

    while pending:
        name = pending.pop()
        doc = objects[name]
        defs[name] = object_schema(
            attributes_of(root, doc, objects),
            constraints_of(doc, objects),
            open_ended=(name == "object"),
        )
        if name == "observable":
            defs[name]["properties"]["type_id"]["enum"] = sorted(observable_ids)

    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://schema.ocsf.io/{version}/classes/{class_name}.schema.json",
        "title": f"OCSF {version} {cls['caption']} ({class_uid})",
        "description": "Generated by tools/ocsf-json-schema.py from the OCSF schema "
        "(https://github.com/ocsf/ocsf-schema, Apache-2.0).",
    }
    schema.update(top)
    schema["$defs"] = {k: defs[k] for k in sorted(defs)}
    json.dump(schema, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
