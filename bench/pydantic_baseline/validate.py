#!/usr/bin/env python3
"""Baseline for `speechops validate`: the origin tutorial's approach, pydantic v2 + PyYAML.

Usage: python validate.py DIR

Walks DIR recursively for *.yaml / *.yml (hidden entries skipped, files in sorted path
order, as speechops does), loads every YAML document and validates each `kind: SpeechRule`
document with the pydantic models below. Prints

    N files, V valid, I invalid, T s [loader]

where V / I count SpeechRule documents (a file that is not valid YAML counts as one
invalid) and T is the time spent loading + validating, measured inside the script
(interpreter start-up and imports are excluded; the caller measures the whole process).
Exit status 0 when nothing is invalid, 1 otherwise, 2 on a usage error.

Rules enforced (the tutorial's, written independently here):
  * every scoring weight within [-1.0, 1.0] (NaN and infinities fail the range test);
  * at most 100 phrases;
  * no duplicate phrases, compared case-insensitively (str.lower());
  * no two `exact` phrases where one contains the other (case-insensitive substring);
plus: every `regex` phrase must compile with Python's `re`.
Field names are the camelCase keys the spec files use (matchType, caseSensitive, type);
unknown keys are rejected, and matchType / type / condition are limited to the values
speechops accepts.
"""
from __future__ import annotations

import os
import re
import sys
import time
from typing import List, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# PYD_LOADER=SafeLoader selects PyYAML's pure-Python loader (what `yaml.safe_load`
# gives where libyaml is missing); the default is the fastest available.
if os.environ.get("PYD_LOADER") == "SafeLoader" or not hasattr(yaml, "CSafeLoader"):
    Loader = yaml.SafeLoader
    LOADER_NAME = "SafeLoader"
else:
    Loader = yaml.CSafeLoader  # libyaml-backed
    LOADER_NAME = "CSafeLoader"

MAX_PHRASES = 100
WEIGHT_MIN, WEIGHT_MAX = -1.0, 1.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhraseMatch(_Strict):
    phrase: str
    match_type: Literal["exact", "fuzzy", "regex"] = Field("exact", alias="matchType")
    case_sensitive: bool = Field(False, alias="caseSensitive")
    enabled: bool = True

    @model_validator(mode="after")
    def _regex_compiles(self) -> "PhraseMatch":
        if self.match_type == "regex":
            try:
                re.compile(self.phrase)
            except re.error as e:
                raise ValueError(f"regex {self.phrase!r} does not compile: {e}") from None
        return self


class ScoringDirective(_Strict):
    directive_type: Literal["additive", "multiplicative"] = Field(alias="type")
    value: float
    condition: Literal["pass", "fail"] = "pass"

    @field_validator("value")
    @classmethod
    def _weight_in_range(cls, value: float) -> float:
        # Written as a positive range test so that NaN (all comparisons false) fails too.
        if not (WEIGHT_MIN <= value <= WEIGHT_MAX):
            raise ValueError(f"scoring weight {value} is outside [{WEIGHT_MIN}, {WEIGHT_MAX}]")
        return value


class SpeechRule(_Strict):
    kind: Literal["SpeechRule"]
    name: str
    renamed_from: Optional[str] = Field(None, alias="renamedFrom")
    description: str = ""
    enabled: bool = True
    language: str = "en-US"
    phrases: List[PhraseMatch]
    scoring: List[ScoringDirective] = []
    tags: List[str] = []

    @field_validator("phrases")
    @classmethod
    def _phrase_rules(cls, phrases: List[PhraseMatch]) -> List[PhraseMatch]:
        if len(phrases) > MAX_PHRASES:
            raise ValueError(f"{len(phrases)} phrases; at most {MAX_PHRASES} are allowed")
        lowered = set()
        exact: List[str] = []
        for p in phrases:
            key = p.phrase.lower()
            if key in lowered:
                raise ValueError(f"duplicate phrase {p.phrase!r} (case-insensitive)")
            lowered.add(key)
            if p.match_type == "exact":
                exact.append(key)
        # Ambiguous overlap: one exact phrase is a substring of another (O(n^2), n <= 100).
        for i in range(len(exact)):
            a = exact[i]
            for b in exact[i + 1:]:
                if a in b or b in a:
                    raise ValueError(f"ambiguous overlap between exact phrases {a!r} and {b!r}")
        return phrases


def spec_files(root: str) -> List[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            if not f.startswith(".") and f.endswith((".yaml", ".yml")):
                found.append(os.path.join(dirpath, f))
    found.sort()
    return found


def main(argv: List[str]) -> int:
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print("usage: validate.py DIR", file=sys.stderr)
        return 2
    verbose = os.environ.get("PYD_VERBOSE") == "1"
    start = time.perf_counter()
    files = spec_files(argv[1])
    valid = invalid = 0
    for path in files:
        with open(path, "rb") as fh:
            data = fh.read()
        try:
            docs = list(yaml.load_all(data, Loader=Loader))
        except yaml.YAMLError as e:
            invalid += 1
            if verbose:
                print(f"{path}: {e}", file=sys.stderr)
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "SpeechRule":
                try:
                    SpeechRule.model_validate(doc)
                    valid += 1
                except ValidationError as e:
                    invalid += 1
                    if verbose:
                        print(f"{path}: {e}", file=sys.stderr)
    elapsed = time.perf_counter() - start
    print(f"{len(files)} files, {valid} valid, {invalid} invalid, {elapsed:.3f} s [{LOADER_NAME}]")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
