#!/usr/bin/env python3
"""Writes the golden case sets of tests/golden/*.json.

    python3 tests/golden/generate.py        # from the repository root

Every expectation below is written by hand from docs/api.md, Decision semantics and the shipped rule set
(rulesets/qiqihar/*.toml). The script computes what people get wrong by hand (the check
characters of identifiers) and, as a guard against typos in the hand-written expectations,
recomputes each expected reason set with a small independent model of the decision semantics
read from the rule-set files; a disagreement stops the script. The runner
(tests/api/golden.rs) reads only the JSON files.
"""

import json
import sys
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rulesets" / "qiqihar"
OUT = ROOT / "tests" / "golden"

AS_OF = "2026-11-22T10:00:00+08:00"
ABSENT = object()  # a field left out of an entry
LISTED = "2026-01-01"
UNTIL = "2028-01-01"

# ---------------------------------------------------------------- identifiers

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
RID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
RID_CHECK = "10X98765432"


def uscc_check(first17):
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def rid_check(first17):
    return RID_CHECK[sum(int(c) * w for c, w in zip(first17, RID_WEIGHTS)) % 11]


def to_base31(n, width):
    out = ""
    for _ in range(width):
        out = USCC_ALPHABET[n % 31] + out
        n //= 31
    return out


def uscc(prefix, n, division="230202"):
    """A valid USCC: `prefix` (2 chars), a Qiqihar division, `MA` and a numbered body."""
    first17 = prefix + division + "MA" + to_base31(n, 7)
    assert len(first17) == 17
    return first17 + uscc_check(first17)


def rid(n, born="19850312", division="230202"):
    """A valid resident ID."""
    first17 = division + born + f"{n:03d}"
    return first17 + rid_check(first17)


def wrong_last(identifier, alphabet):
    """The identifier with a wrong check character (and the expected one)."""
    right = identifier[-1]
    wrong = next(c for c in alphabet if c != right)
    return identifier[:-1] + wrong, right


def wrong_rid(n, born="19700101", division="230204"):
    """A resident ID with a wrong check digit that cannot be read as a valid USCC either."""
    for seq in range(n, n + 50):
        first17 = division + born + f"{seq:03d}"
        right = rid_check(first17)
        for wrong in "0123456789":
            if wrong == right:
                continue
            text = first17 + wrong
            if uscc_check(first17) != wrong:  # not a valid all-digit USCC
                return text, right
    raise AssertionError("no wrong-check resident ID found")


def fullwidth(text):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# ---------------------------------------------------------------- the rule set, read for the model


def load(name):
    with open(RULES / name, "rb") as f:
        return tomllib.load(f)


LISTS = {l["code"]: l for l in load("lists.toml")["list"]}
MATTERS = [m["code"] for m in load("matters.toml")["matter"]]
MEASURES = {m["code"]: m for m in load("measures.toml")["measure"]}
TOPICS = load("topics.toml")["topic"]
REWARD_SUPPRESSION = load("ruleset.toml").get("reward_suppression", "serious")
SCALE = load("ruleset.toml")["score_scale"]
LEVELS = {l["name"]: i for i, l in enumerate(SCALE["levels"])}
ORDER = {"block": 0, "flag": 1, "inform": 2, "reward": 3}


def level(score):
    """The position of the level `score` falls in: the highest whose threshold it reaches."""
    return max(i for i, l in enumerate(SCALE["levels"]) if l["min"] <= score)


def current_scores(entries, subject, at):
    """A person's current score entry per scored list, of its own in force: the
    one listed last; listed at the same instant, the lower score."""
    current = {}
    for e in entries:
        if normalize(e["subject_id"]) != subject or not LISTS[e["list"]].get("scored") or not in_force(e, at):
            continue
        held = current.get(e["list"])
        if held is None or (instant(e["listed_on"]), -e["score"]) > (instant(held["listed_on"]), -held["score"]):
            current[e["list"]] = e
    return {code: e["entry_id"] for code, e in current.items()}


def instant(text):
    if len(text) == 10:
        return datetime.fromisoformat(text + "T00:00:00+08:00")
    return datetime.fromisoformat(text)


def in_force(entry, at):
    if entry.get("status", "active") != "active" or entry.get("dispute") == "upheld":
        return False
    if instant(entry["listed_on"]) > at:
        return False
    until = entry.get("valid_until")
    return until is None or at < instant(until)


def normalize(identifier):
    """docs/api.md, Identifiers: trim, full-width to half-width, upper case; 15 digits (a first-generation
    resident ID) upgraded to 18 characters."""
    half = "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in identifier)
    text = half.strip().upper()
    if len(text) == 15 and text.isdigit():
        first17 = text[:6] + "19" + text[6:]
        return first17 + rid_check(first17)
    return text


def suppresses(list_code):
    """Invariant 10: which lists take every reward away from their subject."""
    definition = LISTS[list_code]
    if REWARD_SUPPRESSION == "any_penalty":
        return definition["kind"] != "red"
    return definition.get("serious", False)


def may_block(list_code, measure, matter):
    """Invariant 2: serious lists block; a court order only in the matters it binds, on a judicial basis."""
    definition = LISTS[list_code]
    if definition["kind"] == "court_order":
        return measure.get("judicial", False) and matter in definition.get("order_matters", [])
    return definition.get("serious", False)


def model(entries, subject, matter, at):
    """Independent model of docs/api.md, Decision semantics (default dispute policy): the expected reason set and
    the entry that suppressed rewards (or None)."""
    at = instant(at)
    asked, subject = subject, normalize(subject["id"] if isinstance(subject, dict) else subject)
    hits = [(e, None) for e in entries if normalize(e["subject_id"]) == subject]
    hits += legacy_hits(entries, asked, [e for e, _ in hits])
    hits += [
        (e, p["role"]) for e in entries for p in e.get("responsible_persons", []) if normalize(p["id"]) == subject
    ]
    reasons, suppressor = [], None
    current = current_scores(entries, subject, at)
    for entry, role in hits:
        if not in_force(entry, at):
            continue
        # One current score: the subject's other score entries in force give no reasons.
        if role is None and entry["list"] in current and current[entry["list"]] != entry["entry_id"]:
            continue
        # The subject's own entry suppresses in every matter; a named person only where reached.
        if role is None and suppressor is None and suppresses(entry["list"]):
            suppressor = entry["entry_id"]
        for topic in TOPICS:
            if entry["list"] not in topic["lists"]:
                continue
            rp = topic.get("responsible_persons", {})
            for code in topic["measures"]:
                measure = MEASURES[code]
                if matter not in measure["matters"]:
                    continue
                if role is not None and (role not in rp.get("roles", []) or code not in rp.get("measures", [])):
                    continue
                tier = topic.get("score_tiers", {}).get(code, topic.get("min_score_level"))
                if tier is not None and level(entry.get("score", 0)) < LEVELS[tier]:
                    continue
                if suppressor is None and suppresses(entry["list"]):
                    suppressor = entry["entry_id"]
                assert measure["effect"] != "block" or may_block(entry["list"], measure, matter), (entry["list"], code, matter)
                reason = {"topic": topic["code"], "measure": code, "effect": measure["effect"], "entry_id": entry["entry_id"]}
                if role is not None:
                    reason["via"] = {"role": role}
                if entry.get("dispute") == "under_review":
                    reason["warnings"] = ["entry_under_dispute"]
                if entry.get("_matched"):
                    reason["warnings"] = reason.get("warnings", []) + ["legacy_id_matched"]
                reasons.append(reason)
    if suppressor is None or all(r["effect"] != "reward" for r in reasons):
        return reasons, None
    return [r for r in reasons if r["effect"] != "reward"], suppressor


def outcome(reasons):
    effects = {r["effect"] for r in reasons}
    return "block" if "block" in effects else "flag" if "flag" in effects else "allow"


def key(reason):
    return (reason["topic"], reason["measure"], reason["effect"], reason["entry_id"], json.dumps(reason.get("via")), tuple(reason.get("warnings", [])))


# ---------------------------------------------------------------- case sets


class CaseSet:
    def __init__(self, name, description, rules=None):
        self.name, self.description, self.rules = name, description, rules
        self.entries, self.requests = [], []

    def entry(self, entry_id, list_code, subject_id, **fields):
        record = {"entry_id": entry_id, "list": list_code, "subject_id": subject_id, "listed_on": LISTED, "valid_until": UNTIL}
        record.update(fields)
        for absent in [k for k, v in fields.items() if v is ABSENT]:
            del record[absent]
        # A court list is not repairable, and a ban for a decided period must end: the service
        # refuses such lines.
        assert record.get("status") != "repaired" or LISTS[list_code].get("repairable", True), (entry_id, list_code)
        assert record.get("valid_until") or not LISTS[list_code].get("requires_valid_until"), (entry_id, list_code)
        self.entries.append(record)
        return record

    def decide(self, name, subject, matter, decision, reasons, as_of=AS_OF, warnings=None, subject_view=None, model_subject=None):
        """A request expected to be decided; `reasons` are checked against the model."""
        expect = {"decision": decision, "reasons": reasons}
        if warnings is not None:
            expect["warnings"] = warnings
        if subject_view is not None:
            expect["subject"] = subject_view
        modelled, suppressor = model(self.entries, model_subject or subject, matter, as_of)
        if sorted(map(key, modelled)) != sorted(map(key, reasons)) or outcome(reasons) != decision:
            sys.exit(f"{self.name} / {name}: hand-written expectation {decision} {reasons}\n  disagrees with the model {outcome(modelled)} {modelled}")
        said = [w.get("entry_id") for w in warnings or [] if isinstance(w, dict) and w["code"] == "rewards_suppressed"]
        if warnings is not None and said != ([suppressor] if suppressor else []):
            sys.exit(f"{self.name} / {name}: hand-written rewards_suppressed warnings {said} disagree with the model's {suppressor}")
        self.requests.append({"name": name, "subject": subject, "matter": matter, "as_of": as_of, "expect": expect})

    def error(self, name, subject, matter, status, code, as_of=AS_OF):
        self.requests.append({"name": name, "subject": subject, "matter": matter, "as_of": as_of, "expect": {"error": {"status": status, "code": code}}})

    def write(self):
        names = [r["name"] for r in self.requests]
        assert len(names) == len(set(names)), f"{self.name}: duplicate request names"
        ids = [e["entry_id"] for e in self.entries]
        assert len(ids) == len(set(ids)), f"{self.name}: duplicate entry ids"
        # One entry and one request a line: readable, and diffs show what changed.
        line = lambda value: json.dumps(value, ensure_ascii=False)
        text = "{\n"
        text += f' "description": {line(self.description)},\n'
        if self.rules:
            text += f' "rules": {line(self.rules)},\n'
        text += ' "entries": [\n  ' + ",\n  ".join(map(line, self.entries)) + "\n ],\n"
        text += ' "requests": [\n  ' + ",\n  ".join(map(line, self.requests)) + "\n ]\n}\n"
        whole = {"description": self.description, "entries": self.entries, "requests": self.requests}
        if self.rules:
            whole["rules"] = self.rules
        assert json.loads(text) == whole
        (OUT / f"{self.name}.json").write_text(text, encoding="utf-8")
        print(f"{self.name}.json: {len(self.entries)} entries, {len(self.requests)} requests")


def r(topic, measure, effect, entry_id, via=None, warnings=None):
    reason = {"topic": topic, "measure": measure, "effect": effect, "entry_id": entry_id}
    if via:
        reason["via"] = {"role": via}
    if warnings:
        reason["warnings"] = warnings
    return reason


# ---------------------------------------------------------------- outcome_table.json


def outcome_table():
    cs = CaseSet(
        "outcome_table",
        "docs/api.md, Decision semantics outcome table, one row after the other: a subject with one in-force entry on the "
        "list, default dispute policy, evaluated at 2026-11-22T10:00:00+08:00. The last two rows put "
        "one in-force entry on every one of the 47 lists and ask each listed subject about "
        "basic_public_service and credit_loan.",
    )
    # Row: court_dishonest_debtor, gov_procurement / air_rail_ticket → block.
    debtor = uscc("91", 1)
    cs.entry("OT-FY-0001", "court_dishonest_debtor", debtor, subject_name="齐齐哈尔某某商贸有限公司",
             responsible_persons=[{"role": "legal_rep", "id": rid(101), "name": "张某"}])
    cs.decide("court_dishonest_debtor in gov_procurement blocks", debtor, "gov_procurement", "block",
              [r("court_dishonest_debtor", "court_procurement_ban", "block", "OT-FY-0001")])
    cs.decide("court_dishonest_debtor in air_rail_ticket blocks", debtor, "air_rail_ticket", "block",
              [r("court_dishonest_debtor", "consumption_restriction_travel", "block", "OT-FY-0001")])
    debtor_person = rid(102)
    cs.entry("OT-FY-0002", "court_dishonest_debtor", debtor_person, subject_name="李某")
    cs.decide("a person on court_dishonest_debtor in air_rail_ticket blocks", debtor_person, "air_rail_ticket", "block",
              [r("court_dishonest_debtor", "consumption_restriction_travel", "block", "OT-FY-0002")])
    # Row: the legal representative of a listed company, high_consumption → block.
    cs.decide("the legal_rep of a court_dishonest_debtor company in high_consumption blocks", rid(101), "high_consumption", "block",
              [r("court_dishonest_debtor", "consumption_restriction_high", "block", "OT-FY-0001", via="legal_rep")])
    # Row: tax_major_violation, gov_procurement → block.
    s = uscc("91", 2)
    cs.entry("OT-SW-0001", "tax_major_violation", s)
    cs.decide("tax_major_violation in gov_procurement blocks", s, "gov_procurement", "block",
              [r("tax_major_violation", "tax_procurement_ban", "block", "OT-SW-0001")])
    # Row: gov_procurement_violation, gov_procurement → block.
    s = uscc("91", 3)
    cs.entry("OT-CZ-0001", "gov_procurement_violation", s)
    cs.decide("gov_procurement_violation in gov_procurement blocks", s, "gov_procurement", "block",
              [r("gov_procurement_violation", "gpv_procurement_ban", "block", "OT-CZ-0001")])
    # Row: wage_arrears, construction_bidding → block.
    s = uscc("91", 4)
    cs.entry("OT-RS-0001", "wage_arrears", s)
    cs.decide("wage_arrears in construction_bidding blocks", s, "construction_bidding", "block",
              [r("wage_arrears", "wage_bidding_restriction", "block", "OT-RS-0001")])
    # Changed by hand (legal basis, rulesets/qiqihar/LEGAL.md): bidding_violation holds the bidders
    # a penalty decision disqualifies under 招标投标法 arts. 53/54/60; it used to flag only, and
    # now blocks in construction_bidding and public_resource_trading within the entry's window.
    s = uscc("91", 9)
    cs.entry("OT-ZB-0001", "bidding_violation", s, listed_on="2026-03-01", valid_until="2027-03-01")
    cs.decide("bidding_violation in construction_bidding blocks within its window", s, "construction_bidding", "block",
              [r("bidding_violation", "bidding_disqualification", "block", "OT-ZB-0001")])
    cs.decide("bidding_violation in public_resource_trading blocks within its window", s, "public_resource_trading", "block",
              [r("bidding_violation", "bidding_disqualification", "block", "OT-ZB-0001")])
    cs.decide("bidding_violation in construction_bidding allows after its window", s, "construction_bidding", "allow", [],
              as_of="2027-03-01T00:00:00+08:00")
    cs.decide("bidding_violation in construction_bidding allows before its window", s, "construction_bidding", "allow", [],
              as_of="2026-02-28T23:59:59+08:00")
    cs.decide("bidding_violation in gov_procurement only flags", s, "gov_procurement", "flag",
              [r("bidding_violation", "procurement_prudent_reference", "flag", "OT-ZB-0001")])
    # Changed by hand: downgrades. Only 财库〔2016〕125号's three lists (and wage_arrears, by
    # 保障农民工工资支付条例 art. 48) block gov_procurement; the other serious lists now flag for
    # 重大违法记录核查. 建筑市场主体黑名单 and 公共资源交易失信 no longer disqualify a bidder.
    s = uscc("91", 10)
    cs.entry("OT-SJ-0001", "market_serious_violation", s)
    cs.decide("market_serious_violation in gov_procurement now flags", s, "gov_procurement", "flag",
              [r("market_serious_violation", "procurement_prudent_reference", "flag", "OT-SJ-0001")])
    cs.decide("market_serious_violation in legal_rep_appointment now flags", s, "legal_rep_appointment", "flag",
              [r("market_serious_violation", "legal_rep_qualification_reference", "flag", "OT-SJ-0001")])
    s = uscc("91", 11)
    cs.entry("OT-JS-0001", "construction_market_blacklist", s)
    cs.decide("construction_market_blacklist in construction_bidding now flags", s, "construction_bidding", "flag",
              [r("construction_market_blacklist", "bidding_prudent_reference", "flag", "OT-JS-0001")])
    cs.decide("construction_market_blacklist in gov_procurement now flags", s, "gov_procurement", "flag",
              [r("construction_market_blacklist", "procurement_prudent_reference", "flag", "OT-JS-0001")])
    s = uscc("91", 12)
    cs.entry("OT-GG-0001", "public_resource_trading_violation", s)
    cs.decide("public_resource_trading_violation in construction_bidding now flags", s, "construction_bidding", "flag",
              [r("public_resource_trading_violation", "bidding_prudent_reference", "flag", "OT-GG-0001")])
    s = uscc("91", 13)
    cs.entry("OT-CZ-0002", "gov_procurement_violation", s)
    cs.decide("gov_procurement_violation in construction_bidding now flags", s, "construction_bidding", "flag",
              [r("gov_procurement_violation", "bidding_prudent_reference", "flag", "OT-CZ-0002")])
    cs.decide("gov_procurement_violation in bond_issuance now flags (a reference for the securities regulator)", s, "bond_issuance", "flag",
              [r("gov_procurement_violation", "bond_review_reference", "flag", "OT-CZ-0002")])
    s = uscc("91", 14)
    cs.entry("OT-SP-0001", "food_safety_violation", s)
    cs.decide("food_safety_violation in admin_license_safety now flags (the ban follows a revocation, not the list)", s, "admin_license_safety", "flag",
              [r("food_safety_violation", "food_license_revocation_check", "flag", "OT-SP-0001"),
               r("food_safety_violation", "no_commitment_acceptance", "flag", "OT-SP-0001")])
    # Recruitment split: 公务员录用 (civil_service_recruitment) and 事业单位公开招聘
    # (public_institution_recruitment), each with its own basis.
    cs.decide("court_dishonest_debtor in civil_service_recruitment blocks", debtor_person, "civil_service_recruitment", "block",
              [r("court_dishonest_debtor", "court_civil_service_restriction", "block", "OT-FY-0002")])
    cs.decide("court_dishonest_debtor in public_institution_recruitment blocks", debtor_person, "public_institution_recruitment", "block",
              [r("court_dishonest_debtor", "court_institution_recruitment_restriction", "block", "OT-FY-0002")])
    tax_person = rid(106)
    cs.entry("OT-SW-0002", "tax_major_violation", tax_person)
    cs.decide("tax_major_violation in civil_service_recruitment blocks", tax_person, "civil_service_recruitment", "block",
              [r("tax_major_violation", "civil_service_ban", "block", "OT-SW-0002")])
    cs.decide("tax_major_violation in public_institution_recruitment flags", tax_person, "public_institution_recruitment", "flag",
              [r("tax_major_violation", "institution_recruitment_reference", "flag", "OT-SW-0002")])
    # Row: court_consumption_restricted (a court_order list), air_rail_ticket / high_consumption →
    # block. Changed by hand: it used to flag; the 限制消费令 binds the 协助执行单位 under
    # 最高人民法院《关于限制被执行人高消费及有关消费的若干规定》, so flagging let a booking through.
    restricted_company, restricted_rep, restricted_person = uscc("91", 8), rid(104), rid(105)
    cs.entry("OT-XF-0001", "court_consumption_restricted", restricted_company,
             responsible_persons=[{"role": "legal_rep", "id": restricted_rep}])
    cs.entry("OT-XF-0002", "court_consumption_restricted", restricted_person)
    cs.decide("a court order blocks a ticket purchase", restricted_person, "air_rail_ticket", "block",
              [r("court_consumption_restricted", "consumption_order_travel_check", "block", "OT-XF-0002")])
    cs.decide("a court order blocks high consumption", restricted_person, "high_consumption", "block",
              [r("court_consumption_restricted", "consumption_order_high_check", "block", "OT-XF-0002")])
    cs.decide("a court order on a company blocks its legal_rep's ticket purchase", restricted_rep, "air_rail_ticket", "block",
              [r("court_consumption_restricted", "consumption_order_travel_check", "block", "OT-XF-0001", via="legal_rep")])
    cs.decide("a court order does not reach a matter it does not name", restricted_company, "gov_procurement", "allow", [])
    # Row: market_abnormal_operation, any matter → allow or flag, never block.
    s = uscc("92", 5)
    cs.entry("OT-SC-0001", "market_abnormal_operation", s)
    flags = {
        "gov_procurement": "procurement_prudent_reference",
        "honors_awards": "honors_not_recommended",
        "supervision_inspection": "market_risk_supervision",
    }
    for matter in MATTERS:
        if matter in flags:
            cs.decide(f"market_abnormal_operation in {matter} flags", s, matter, "flag",
                      [r("market_abnormal_operation", flags[matter], "flag", "OT-SC-0001")])
        elif matter == "credit_loan":
            cs.decide(f"market_abnormal_operation in {matter} allows with inform", s, matter, "allow",
                      [r("market_abnormal_operation", "credit_loan_reference", "inform", "OT-SC-0001")])
        else:
            cs.decide(f"market_abnormal_operation in {matter} allows", s, matter, "allow", [])
    # Row: tax_d_grade, fiscal_subsidy → flag.
    s = uscc("91", 6)
    cs.entry("OT-SW-D001", "tax_d_grade", s)
    cs.decide("tax_d_grade in fiscal_subsidy flags", s, "fiscal_subsidy", "flag",
              [r("tax_d_grade", "fiscal_prudent_reference", "flag", "OT-SW-D001")])
    # Row: tax_a_grade, admin_license_general → allow with reward (green channel, 容缺受理).
    s = uscc("91", 7)
    cs.entry("OT-SW-A001", "tax_a_grade", s)
    cs.decide("tax_a_grade in admin_license_general allows with reward", s, "admin_license_general", "allow",
              [r("tax_a_grade", "green_channel", "reward", "OT-SW-A001"),
               r("tax_a_grade", "tolerant_acceptance", "reward", "OT-SW-A001")])
    # Row: personal_credit_score at level C, any matter → allow (and no reward below AA).
    s = rid(103, born="20010109")
    cs.entry("OT-XY-C001", "personal_credit_score", s, score=380, valid_until=None)
    for matter in MATTERS:
        cs.decide(f"personal_credit_score level C in {matter} allows", s, matter, "allow", [])
    # Rows: any list, basic_public_service → allow; any list, credit_loan → allow (inform/reward).
    subjects = {}
    for i, (code, definition) in enumerate(LISTS.items()):
        person = definition["subjects"] == "persons" or (definition["subjects"] == "any" and i % 3 == 0)
        subject = rid(200 + i, born="19790615") if person else uscc(["91", "92", "12", "52", "93"][i % 5], 100 + i)
        fields = {"score": 650} if definition.get("scored") else {}
        cs.entry(f"OT-ALL-{i + 1:02d}", code, subject, **fields)
        subjects[code] = (subject, f"OT-ALL-{i + 1:02d}")
    assert len(subjects) == 47, len(subjects)
    for code, (subject, entry_id) in subjects.items():
        cs.decide(f"any list: {code} in basic_public_service allows", subject, "basic_public_service", "allow", [])
    no_credit_loan_measure = {"social_org_a_rating", "rail_air_restricted"}
    for code, (subject, entry_id) in subjects.items():
        if code in no_credit_loan_measure:
            reasons = []
        elif LISTS[code]["kind"] == "red":
            reasons = [r(code, "credit_loan_recommendation", "reward", entry_id)]
        else:
            reasons = [r(code, "credit_loan_reference", "inform", entry_id)]
        cs.decide(f"any list: {code} in credit_loan allows", subject, "credit_loan", "allow", reasons)
    cs.write()


# ---------------------------------------------------------------- invariants.json


def invariants():
    cs = CaseSet(
        "invariants",
        "docs/api.md, Decision semantics invariants 7-10 and disputes: unknown subjects, entries not in force (objection upheld, expired, "
        "not yet started, repaired, removed, and the exact instant an entry stops and starts to "
        "count), block over flag over allow, punishment on a serious list suppressing incentives in "
        "every matter with the rewards_suppressed warning naming the entry, and the "
        "entry_under_dispute warning.",
    )
    # 7. Unknown subject.
    cs.decide("an unknown organisation is allowed with no reasons", uscc("91", 900), "gov_procurement", "allow", [], warnings=[])
    cs.decide("an unknown person is allowed with no reasons", rid(900), "air_rail_ticket", "allow", [], warnings=[])
    # 8. Entries not in force never count.
    cases = [
        ("expired", uscc("91", 11), {"listed_on": "2023-01-01", "valid_until": "2025-01-01"}),
        ("not yet started", uscc("91", 12), {"listed_on": "2027-01-01", "valid_until": "2029-01-01"}),
        ("repaired", uscc("91", 13), {"status": "repaired"}),
        ("removed", uscc("91", 14), {"status": "removed"}),
        ("repaired and without end", uscc("91", 15), {"status": "repaired", "valid_until": None}),
    ]
    # Changed by hand: the repaired cases were court_dishonest_debtor entries; a court list is not
    # repairable (the court deletes or shields its entries), so they are on tax_major_violation.
    for i, (what, s, fields) in enumerate(cases):
        list_code = "tax_major_violation" if fields.get("status") == "repaired" else "court_dishonest_debtor"
        cs.entry(f"IV-8-{i}", list_code, s, **fields)
        cs.decide(f"a {what} {list_code} entry does not count", s, "gov_procurement", "allow", [])
    s = uscc("91", 16)
    cs.entry("IV-8-EXP", "court_dishonest_debtor", s, listed_on="2026-01-01", valid_until="2026-11-22T10:00:00+08:00")
    cs.decide("an entry ending at 10:00 still counts at 09:59:59", s, "gov_procurement", "block",
              [r("court_dishonest_debtor", "court_procurement_ban", "block", "IV-8-EXP")], as_of="2026-11-22T09:59:59+08:00")
    cs.decide("an entry ending at 10:00 no longer counts at 10:00:00", s, "gov_procurement", "allow", [],
              as_of="2026-11-22T10:00:00+08:00")
    cs.decide("an entry ending at 10:00 +08:00 no longer counts at 02:00:00Z", s, "gov_procurement", "allow", [],
              as_of="2026-11-22T02:00:00Z")
    s = uscc("91", 17)
    cs.entry("IV-8-START", "court_dishonest_debtor", s, listed_on="2026-11-22T10:00:00+08:00", valid_until=None)
    cs.decide("an entry starting at 10:00 does not count at 09:59:59", s, "gov_procurement", "allow", [],
              as_of="2026-11-22T09:59:59+08:00")
    cs.decide("an entry starting at 10:00 counts at 10:00:00", s, "gov_procurement", "block",
              [r("court_dishonest_debtor", "court_procurement_ban", "block", "IV-8-START")], as_of="2026-11-22T10:00:00+08:00")
    s = uscc("91", 18)
    cs.entry("IV-8-DATE", "court_dishonest_debtor", s, listed_on="2026-01-01", valid_until="2026-11-23")
    cs.decide("a date valid_until is exclusive at midnight +08:00 (23:59:59.999 the day before counts)", s, "gov_procurement", "block",
              [r("court_dishonest_debtor", "court_procurement_ban", "block", "IV-8-DATE")], as_of="2026-11-22T23:59:59.999+08:00")
    cs.decide("a date valid_until is exclusive at midnight +08:00 (midnight does not count)", s, "gov_procurement", "allow", [],
              as_of="2026-11-23T00:00:00+08:00")
    cs.decide("a date valid_until is midnight +08:00, not UTC (16:00Z the day before no longer counts)", s, "gov_procurement", "allow", [],
              as_of="2026-11-22T16:00:00Z")
    # An active entry next to an ended one on the same list: only the active one counts.
    s = uscc("91", 19)
    cs.entry("IV-8-OLD", "court_dishonest_debtor", s, listed_on="2020-01-01", valid_until="2022-01-01")
    cs.entry("IV-8-NEW", "court_dishonest_debtor", s)
    cs.decide("only the in-force one of two entries on the same list counts", s, "gov_procurement", "block",
              [r("court_dishonest_debtor", "court_procurement_ban", "block", "IV-8-NEW")])
    s = uscc("91", 27)
    cs.entry("IV-8-OPEN", "court_dishonest_debtor", s, valid_until=ABSENT)
    cs.decide("an entry without valid_until counts until removed", s, "gov_procurement", "block",
              [r("court_dishonest_debtor", "court_procurement_ban", "block", "IV-8-OPEN")], as_of="2099-12-31T23:59:59+08:00")
    s = uscc("91", 28)
    cs.entry("IV-8-NULL", "court_dishonest_debtor", s, valid_until=None, listed_on="2026-03-01T08:30:00+08:00")
    cs.decide("an entry with valid_until null counts until removed", s, "gov_procurement", "block",
              [r("court_dishonest_debtor", "court_procurement_ban", "block", "IV-8-NULL")], as_of="2080-01-01T00:00:00+08:00")
    cs.decide("a date-time listed_on counts from that instant, not from the day", s, "gov_procurement", "allow", [],
              as_of="2026-03-01T08:29:59+08:00")
    # Personal credit score levels (AAA >= 700, AA 600-699, A 500-599, B 400-499, C < 400): the
    # incentive topic rewards in tiers, 信易批 from A and 信易贷 from AA, and never restricts.
    for n, score in enumerate([0, 399, 400, 499, 500, 599, 600, 699, 700, 1000]):
        p = rid(300 + n, born="19900505")
        cs.entry(f"IV-SC-{score}", "personal_credit_score", p, score=score, valid_until=None)
        reasons = [r("personal_credit_score", "personal_credit_convenience", "reward", f"IV-SC-{score}")] if score >= 500 else []
        cs.decide(f"personal credit score {score} in admin_license_general", p, "admin_license_general", "allow", reasons)
        loan = [r("personal_credit_score", "credit_loan_recommendation", "reward", f"IV-SC-{score}")] if score >= 600 else []
        cs.decide(f"personal credit score {score} in credit_loan", p, "credit_loan", "allow", loan)
    # 9. block beats flag beats allow.
    s = uscc("91", 20)
    cs.entry("IV-9-FY", "court_dishonest_debtor", s)
    cs.entry("IV-9-SC", "market_abnormal_operation", s)
    cs.decide("block beats flag", s, "gov_procurement", "block",
              [r("court_dishonest_debtor", "court_procurement_ban", "block", "IV-9-FY"),
               r("market_abnormal_operation", "procurement_prudent_reference", "flag", "IV-9-SC")])
    cs.decide("flag beats inform", s, "supervision_inspection", "flag",
              [r("court_dishonest_debtor", "key_supervision", "flag", "IV-9-FY"),
               r("market_abnormal_operation", "market_risk_supervision", "flag", "IV-9-SC")])
    s = uscc("52", 21)
    cs.entry("IV-9-SO", "social_org_a_rating", s)
    cs.entry("IV-9-SC2", "market_abnormal_operation", s)
    cs.decide("flag beats reward (and a grey list does not suppress rewards)", s, "gov_procurement", "flag",
              [r("market_abnormal_operation", "procurement_prudent_reference", "flag", "IV-9-SC2"),
               r("social_org_a_rating", "social_org_service_priority", "reward", "IV-9-SO")])
    cs.decide("inform and reward alone allow", s, "credit_loan", "allow",
              [r("market_abnormal_operation", "credit_loan_reference", "inform", "IV-9-SC2")])
    # 10. Punishment on a serious list suppresses incentives for the whole subject, in every
    # matter, and the decision names the entry that did it.
    s = uscc("91", 22)
    cs.entry("IV-10-A", "tax_a_grade", s)
    cs.entry("IV-10-FY", "court_dishonest_debtor", s)
    cs.decide("no reward in a matter where the serious topic flags", s, "admin_license_general", "flag",
              [r("court_dishonest_debtor", "no_commitment_acceptance", "flag", "IV-10-FY")],
              warnings=[{"code": "rewards_suppressed", "entry_id": "IV-10-FY", "list": "court_dishonest_debtor"}])
    cs.decide("no reward in a matter where the serious topic only informs", s, "credit_loan", "allow",
              [r("court_dishonest_debtor", "credit_loan_reference", "inform", "IV-10-FY")])
    cs.decide("no reward in a matter where the serious topic blocks", s, "fiscal_subsidy", "block",
              [r("court_dishonest_debtor", "court_subsidy_restriction", "block", "IV-10-FY")])
    # Changed by hand: this reward used to stay, because court_dishonest_debtor has no measure in
    # tax_service; suppression is now subject-wide (a 失信被执行人 with tax grade A gets no
    # 纳税信用A级办税便利).
    suppressed = lambda entry_id, list_code: [{"code": "rewards_suppressed", "entry_id": entry_id, "list": list_code}]
    cs.decide("a tax grade A reward is suppressed where the serious list has no measure", s, "tax_service", "allow", [],
              warnings=suppressed("IV-10-FY", "court_dishonest_debtor"))
    s = uscc("91", 29)
    cs.entry("IV-10-AEO", "customs_aeo_advanced", s)
    cs.entry("IV-10-FY4", "court_dishonest_debtor", s)
    cs.decide("a customs AEO reward is suppressed where the serious list has no measure", s, "customs_clearance", "allow", [],
              warnings=suppressed("IV-10-FY4", "court_dishonest_debtor"))
    cs.decide("no rewards_suppressed warning where the matter has no reward to take", s, "gov_procurement", "block",
              [r("court_dishonest_debtor", "court_procurement_ban", "block", "IV-10-FY4")], warnings=[])
    s = uscc("91", 23)
    cs.entry("IV-10-A2", "tax_a_grade", s)
    cs.entry("IV-10-D", "tax_d_grade", s)
    cs.decide("a non-serious penalty list does not suppress the reward", s, "fiscal_subsidy", "flag",
              [r("tax_d_grade", "fiscal_prudent_reference", "flag", "IV-10-D"),
               r("tax_a_grade", "policy_support_priority", "reward", "IV-10-A2")], warnings=[])
    s = uscc("91", 24)
    cs.entry("IV-10-A3", "tax_a_grade", s)
    cs.entry("IV-10-FY3", "tax_major_violation", s, status="repaired")
    cs.decide("a repaired serious entry does not suppress the reward", s, "admin_license_general", "allow",
              [r("tax_a_grade", "green_channel", "reward", "IV-10-A3"),
               r("tax_a_grade", "tolerant_acceptance", "reward", "IV-10-A3")])
    # Disputes: under_review counts, with the warning on the reason.
    s = uscc("91", 25)
    cs.entry("IV-DS-1", "court_dishonest_debtor", s, dispute="under_review")
    cs.decide("an entry under dispute still blocks, with entry_under_dispute", s, "gov_procurement", "block",
              [r("court_dishonest_debtor", "court_procurement_ban", "block", "IV-DS-1", warnings=["entry_under_dispute"])])
    s = uscc("91", 26)
    cs.entry("IV-DS-2", "court_dishonest_debtor", s, dispute="rejected")
    cs.decide("a rejected dispute carries no warning", s, "gov_procurement", "block",
              [r("court_dishonest_debtor", "court_procurement_ban", "block", "IV-DS-2")])
    # An upheld objection (异议成立): the entry no longer counts, blocks nothing and suppresses
    # no reward.
    s = uscc("91", 71)
    cs.entry("IV-DS-3", "court_dishonest_debtor", s, dispute="upheld")
    cs.decide("an entry whose objection was upheld does not block", s, "gov_procurement", "allow", [])
    cs.entry("IV-DS-3A", "tax_a_grade", s)
    cs.decide("an entry whose objection was upheld does not suppress rewards", s, "admin_license_general", "allow",
              [r("tax_a_grade", "green_channel", "reward", "IV-DS-3A"),
               r("tax_a_grade", "tolerant_acceptance", "reward", "IV-DS-3A")])
    cs.write()


# ---------------------------------------------------------------- identifiers.json


def identifiers():
    cs = CaseSet(
        "identifiers",
        "docs/api.md, Identifiers: check-character mismatches (USCC evaluated with uscc_check_mismatch and the "
        "expected character; resident ID refused with 400 unless listed, then evaluated with "
        "id_check_mismatch), normalisation of full-width, lower-case and padded input, 15-digit "
        "first-generation resident IDs upgraded (resident_id_upgraded), and the subject kind "
        "derived from the identifier.",
    )
    block = lambda e: [r("court_dishonest_debtor", "court_procurement_ban", "block", e)]
    # USCC whose check character fails: listed as given, evaluated with a warning.
    good = uscc("91", 31)
    bad, expected = wrong_last(good, USCC_ALPHABET)
    cs.entry("ID-U-1", "court_dishonest_debtor", bad)
    cs.decide("a listed USCC with a wrong check character is evaluated with uscc_check_mismatch", bad, "gov_procurement", "block",
              block("ID-U-1"), warnings=[{"code": "uscc_check_mismatch", "expected": expected}],
              subject_view={"id": bad, "kind": "enterprise", "id_type": "uscc"})
    cs.decide("the correct USCC does not match an entry listed under the wrong check character", good, "gov_procurement", "allow", [], warnings=[])
    unlisted_bad, expected2 = wrong_last(uscc("91", 32), USCC_ALPHABET)
    cs.decide("an unlisted USCC with a wrong check character is allowed with uscc_check_mismatch", unlisted_bad, "gov_procurement", "allow", [],
              warnings=[{"code": "uscc_check_mismatch", "expected": expected2}])
    # Resident ID whose check digit fails.
    unlisted_rid, _ = wrong_rid(1)
    cs.error("an unlisted resident ID with a wrong check digit is refused with 400 id_check_mismatch", unlisted_rid, "gov_procurement", 400, "id_check_mismatch")
    listed_rid, expected3 = wrong_rid(100)
    cs.entry("ID-R-1", "court_dishonest_debtor", listed_rid)
    cs.decide("a listed resident ID with a wrong check digit is evaluated with id_check_mismatch", listed_rid, "gov_procurement", "block",
              block("ID-R-1"), warnings=[{"code": "id_check_mismatch", "expected": expected3}],
              subject_view={"id": listed_rid, "kind": "person", "id_type": "resident_id"})
    named_rid, expected4 = wrong_rid(200)
    company = uscc("91", 33)
    cs.entry("ID-R-2", "court_dishonest_debtor", company, responsible_persons=[{"role": "legal_rep", "id": named_rid}])
    cs.decide("a resident ID with a wrong check digit named in an entry is evaluated with id_check_mismatch", named_rid, "high_consumption", "block",
              [r("court_dishonest_debtor", "consumption_restriction_high", "block", "ID-R-2", via="legal_rep")],
              warnings=[{"code": "id_check_mismatch", "expected": expected4}])
    # Normalisation: full-width, lower case, surrounding (ideographic) spaces.
    s = uscc("91", 34)
    cs.entry("ID-N-1", "court_dishonest_debtor", s)
    view = {"id": s, "kind": "enterprise", "id_type": "uscc"}
    cs.decide("a full-width USCC is normalised", fullwidth(s), "gov_procurement", "block", block("ID-N-1"), warnings=[], subject_view=view, model_subject=s)
    cs.decide("a lower-case USCC is normalised", s.lower(), "gov_procurement", "block", block("ID-N-1"), warnings=[], subject_view=view, model_subject=s)
    cs.decide("a USCC with surrounding spaces is trimmed", "  " + s + "\u3000", "gov_procurement", "block", block("ID-N-1"), warnings=[], subject_view=view, model_subject=s)
    cs.decide("a full-width lower-case USCC is normalised", fullwidth(s.lower()), "gov_procurement", "block", block("ID-N-1"), warnings=[], subject_view=view, model_subject=s)
    x_id = next(rid(n, born="19900101") for n in range(1000) if rid(n, born="19900101").endswith("X"))
    cs.entry("ID-N-2", "court_dishonest_debtor", x_id)
    xview = {"id": x_id, "kind": "person", "id_type": "resident_id"}
    cs.decide("a resident ID with a lower-case x is normalised", x_id[:-1] + "x", "gov_procurement", "block", block("ID-N-2"), warnings=[], subject_view=xview, model_subject=x_id)
    cs.decide("a full-width resident ID is normalised", fullwidth(x_id), "gov_procurement", "block", block("ID-N-2"), warnings=[], subject_view=xview, model_subject=x_id)
    # Entry identifiers are normalised like request identifiers (docs/lists.md, Lists).
    s = uscc("91", 35)
    cs.entry("ID-E-1", "court_dishonest_debtor", fullwidth(s.lower()))
    cs.decide("an entry written full-width and lower-case matches the canonical identifier", s, "gov_procurement", "block", block("ID-E-1"), warnings=[])
    x_rep = next(rid(n, born="19920202") for n in range(1000) if rid(n, born="19920202").endswith("X"))
    cs.entry("ID-E-2", "court_dishonest_debtor", uscc("91", 36), responsible_persons=[{"role": "legal_rep", "id": x_rep[:-1] + "x"}])
    cs.decide("a responsible person written with a lower-case x is reached", x_rep, "high_consumption", "block",
              [r("court_dishonest_debtor", "consumption_restriction_high", "block", "ID-E-2", via="legal_rep")], warnings=[])
    # A 15-digit first-generation resident ID is upgraded (19 before the year, check computed).
    legacy_person = rid(300, born="19850312")
    legacy = legacy_person[:6] + legacy_person[8:17]
    cs.entry("ID-L-1", "court_dishonest_debtor", legacy_person)
    cs.decide("a 15-digit first-generation resident ID is upgraded with resident_id_upgraded", legacy, "gov_procurement", "block",
              block("ID-L-1"), warnings=["resident_id_upgraded"],
              subject_view={"id": legacy_person, "kind": "person", "id_type": "resident_id"})
    entry_person = rid(301, born="19620704")
    cs.entry("ID-L-2", "court_dishonest_debtor", entry_person[:6] + entry_person[8:17])
    cs.decide("an entry written with a 15-digit resident ID matches its 18-digit form", entry_person, "gov_procurement", "block",
              block("ID-L-2"), warnings=[])
    cs.error("a 15-digit resident ID without a real birth date is refused", "230202850230123", "gov_procurement", 400, "invalid_subject_id")
    # An all-digit USCC whose check character fails: read as a resident ID (bad date) unless the
    # caller says it is a USCC.
    digits_bad, digits_expected = wrong_last("912302061276543275", "0123456789")
    cs.decide("an all-digit USCC with a wrong check and id_type uscc is evaluated with uscc_check_mismatch",
              {"id": digits_bad, "id_type": "uscc"}, "gov_procurement", "allow", [],
              warnings=[{"code": "uscc_check_mismatch", "expected": digits_expected}],
              subject_view={"id": digits_bad, "kind": "enterprise", "id_type": "uscc"}, model_subject=digits_bad)
    cs.error("a USCC given with id_type resident_id is refused", {"id": good, "id_type": "resident_id"}, "gov_procurement", 400, "invalid_subject_id")
    # Subject kinds.
    kinds = [
        ("91", "enterprise"), ("92", "individual_business"), ("93", "farmer_cooperative"),
        ("11", "state_organ"), ("12", "public_institution"), ("13", "mass_organization"),
        ("19", "public_institution"), ("51", "social_organization"),
        ("52", "social_organization"), ("53", "social_organization"), ("31", "other_organization"),
        ("Y1", "other_organization"), ("A1", "other_organization"),
    ]
    for i, (prefix, kind) in enumerate(kinds):
        s = uscc(prefix, 40 + i)
        cs.decide(f"a USCC starting {prefix} is a {kind}", s, "gov_procurement", "allow", [], warnings=[],
                  subject_view={"id": s, "kind": kind, "id_type": "uscc"})
    p = rid(41, born="19991231")
    cs.decide("a resident ID is a person", p, "gov_procurement", "allow", [], warnings=[], subject_view={"id": p, "kind": "person", "id_type": "resident_id"})
    # An all-digit USCC (legacy numeric organisation code) is read as a USCC, not a resident ID.
    digits = "912302061276543275"
    assert uscc_check(digits[:17]) == digits[17]
    cs.entry("ID-D-1", "wage_arrears", digits)
    cs.decide("an all-digit USCC is read as a USCC", digits, "construction_bidding", "block",
              [r("wage_arrears", "wage_bidding_restriction", "block", "ID-D-1")], warnings=[],
              subject_view={"id": digits, "kind": "enterprise", "id_type": "uscc"})
    cs.decide("an explicit id_type uscc is honoured", {"id": digits, "id_type": "uscc"}, "construction_bidding", "block",
              [r("wage_arrears", "wage_bidding_restriction", "block", "ID-D-1")], warnings=[],
              subject_view={"id": digits, "kind": "enterprise", "id_type": "uscc"})
    # Malformed identifiers of each kind: 400 invalid_subject_id.
    for name, text in [
        ("an empty identifier", ""),
        ("a 17-character USCC", good[:17]),
        ("a 19-character USCC", good + "1"),
        ("a USCC with the letter O", good[:10] + "O" + good[11:]),
        ("a USCC with the letter I", good[:10] + "I" + good[11:]),
        ("a USCC with a letter in positions 3-8", good[:4] + "A" + good[5:]),
        ("a resident ID with month 13", "230202198513121234"),
        ("a resident ID with 30 February", "230202198502301234"),
        ("a resident ID with year 1899", "230202189903121234"),
        ("an 18-digit identifier ending in Z", "23020219850312123Z"),
        ("a USCC with a non-ASCII character", good[:17] + "码"),
    ]:
        if len(text) == 18 and text[:17].isdigit() and text[17].isdigit():
            assert uscc_check(text[:17]) != text[17], f"{text} would read as a valid USCC"
        cs.error(f"{name} is refused with 400 invalid_subject_id", text, "gov_procurement", 400, "invalid_subject_id")
    cs.write()


# ---------------------------------------------------------------- responsible_persons.json


def responsible_persons():
    cs = CaseSet(
        "responsible_persons",
        "docs/lists.md, Lists responsible persons: the legal representative (and other named roles) of a "
        "listed company is reached by the measures the topic extends to persons, with `via`; not by "
        "the others; not through an entry that is not in force; not in a role the topic does not name.",
    )
    company, rep, principal, controller = uscc("91", 51), rid(51), rid(52), rid(53)
    cs.entry("RP-FY-1", "court_dishonest_debtor", company, responsible_persons=[
        {"role": "legal_rep", "id": rep, "name": "张某"},
        {"role": "principal", "id": principal, "name": "王某"},
    ])
    cs.decide("the legal_rep of a court_dishonest_debtor company is blocked in high_consumption", rep, "high_consumption", "block",
              [r("court_dishonest_debtor", "consumption_restriction_high", "block", "RP-FY-1", via="legal_rep")], warnings=[])
    cs.decide("the legal_rep of a court_dishonest_debtor company is blocked in air_rail_ticket", rep, "air_rail_ticket", "block",
              [r("court_dishonest_debtor", "consumption_restriction_travel", "block", "RP-FY-1", via="legal_rep")])
    cs.decide("the legal_rep of a court_dishonest_debtor company is not reached in gov_procurement", rep, "gov_procurement", "allow", [])
    cs.decide("the legal_rep of a court_dishonest_debtor company is not reached in credit_loan", rep, "credit_loan", "allow", [])
    cs.decide("the principal is reached with role principal", principal, "high_consumption", "block",
              [r("court_dishonest_debtor", "consumption_restriction_high", "block", "RP-FY-1", via="principal")])
    cs.decide("the company itself is blocked in high_consumption without via", company, "high_consumption", "block",
              [r("court_dishonest_debtor", "consumption_restriction_high", "block", "RP-FY-1")])
    # Named in an expired entry: not reached.
    old_company, old_rep = uscc("91", 52), rid(54)
    cs.entry("RP-FY-2", "court_dishonest_debtor", old_company, listed_on="2020-01-01", valid_until="2022-01-01",
             responsible_persons=[{"role": "legal_rep", "id": old_rep}])
    cs.decide("a person named in an expired entry is not reached", old_rep, "high_consumption", "allow", [])
    removed_company, removed_rep = uscc("91", 53), rid(55)
    cs.entry("RP-FY-3", "court_dishonest_debtor", removed_company, status="removed",
             responsible_persons=[{"role": "legal_rep", "id": removed_rep}])
    cs.decide("a person named in a removed entry is not reached", removed_rep, "air_rail_ticket", "allow", [])
    # A role the topic does not extend to.
    tax_company = uscc("91", 54)
    cs.entry("RP-SW-1", "tax_major_violation", tax_company, responsible_persons=[
        {"role": "actual_controller", "id": controller},
        {"role": "directly_responsible", "id": rid(56)},
    ])
    cs.decide("an actual_controller is not reached where the topic names only other roles", controller, "honors_awards", "allow", [])
    cs.decide("a directly_responsible person is reached by honors_revocation", rid(56), "honors_awards", "block",
              [r("tax_major_violation", "honors_revocation", "block", "RP-SW-1", via="directly_responsible")])
    # A person both listed and named: both hits, each with its own via.
    both = rid(57)
    cs.entry("RP-FY-4", "court_dishonest_debtor", uscc("91", 55), responsible_persons=[{"role": "legal_rep", "id": both}])
    cs.entry("RP-RA-1", "rail_air_restricted", both)
    cs.decide("a person listed and named gets both reasons", both, "air_rail_ticket", "block",
              [r("court_dishonest_debtor", "consumption_restriction_travel", "block", "RP-FY-4", via="legal_rep"),
               r("rail_air_restricted", "rail_air_travel_ban", "block", "RP-RA-1")])
    # A named person's own incentives are suppressed by the serious topic reaching them.
    volunteer = rid(58)
    cs.entry("RP-FY-5", "court_dishonest_debtor", uscc("91", 56), responsible_persons=[{"role": "legal_rep", "id": volunteer}])
    cs.entry("RP-VL-1", "model_volunteer", volunteer)
    cs.decide("a named person keeps a reward where the serious topic does not reach them", volunteer, "admin_license_general", "allow",
              [r("model_volunteer", "green_channel", "reward", "RP-VL-1")])
    # A named person under dispute carries the warning.
    disputed_rep = rid(59)
    cs.entry("RP-FY-6", "court_dishonest_debtor", uscc("91", 57), dispute="under_review",
             responsible_persons=[{"role": "legal_rep", "id": disputed_rep}])
    cs.decide("a person named in an entry under dispute is blocked with entry_under_dispute", disputed_rep, "high_consumption", "block",
              [r("court_dishonest_debtor", "consumption_restriction_high", "block", "RP-FY-6", via="legal_rep", warnings=["entry_under_dispute"])])
    cs.write()



# ---------------------------------------------------------------- personal_scores.json, score_scales.json


def use_rules(folder):
    """Points the model at the rule set in `folder` (relative to the repository)."""
    global RULES, LISTS, MATTERS, MEASURES, TOPICS, REWARD_SUPPRESSION, SCALE, LEVELS
    RULES = ROOT / folder
    LISTS = {l["code"]: l for l in load("lists.toml")["list"]}
    MATTERS = [m["code"] for m in load("matters.toml")["matter"]]
    MEASURES = {m["code"]: m for m in load("measures.toml")["measure"]}
    TOPICS = load("topics.toml")["topic"]
    REWARD_SUPPRESSION = load("ruleset.toml").get("reward_suppression", "serious")
    SCALE = load("ruleset.toml")["score_scale"]
    LEVELS = {l["name"]: i for i, l in enumerate(SCALE["levels"])}


def superseded(cs, subject, current_id, superseded_ids, as_of=AS_OF):
    """The hand-written `score_superseded` warning, checked against the model."""
    at = instant(as_of)
    current = current_scores(cs.entries, normalize(subject), at)
    modelled = sorted(
        e["entry_id"] for e in cs.entries
        if normalize(e["subject_id"]) == normalize(subject) and e["list"] in current
        and in_force(e, at) and e["entry_id"] != current[e["list"]]
    )
    if list(current.values()) != [current_id] or modelled != sorted(superseded_ids):
        sys.exit(f"{cs.name}: hand-written score_superseded {current_id} {superseded_ids} disagrees with the model's {current} {modelled}")
    return {"code": "score_superseded", "entry_id": current_id, "list": "personal_credit_score", "superseded": sorted(superseded_ids)}


def personal_scores():
    """The shipped scale's tiers and one current score per person."""
    cs = CaseSet("personal_scores", "Personal credit scores on the shipped scale (assumed thresholds AAA >= 700, AA >= 600, A >= 500, B >= 400, C): rewards tiered by level, 信易批 from A and 信易贷 from AA; of a person's score entries in force the one listed last counts, the others are superseded and give no reasons.")
    pi, dai = "personal_credit_convenience", "credit_loan_recommendation"
    # Tiers at their boundaries: B gets nothing, A gets 信易批 only, AA gets both.
    for n, (score, tiers) in enumerate([(499, []), (500, [pi]), (599, [pi]), (600, [pi, dai])]):
        p = rid(400 + n, born="19880808")
        cs.entry(f"PS-T-{score}", "personal_credit_score", p, score=score, valid_until=None)
        for matter, measure in [("admin_license_general", pi), ("credit_loan", dai)]:
            reasons = [r("personal_credit_score", measure, "reward", f"PS-T-{score}")] if measure in tiers else []
            cs.decide(f"score {score} in {matter}", p, matter, "allow", reasons, warnings=[])
    # A newer, lower score supersedes an older AAA: only 信易批 (A) is left, and the decision
    # names both entries.
    p = rid(410, born="19750301")
    cs.entry("PS-S-2025", "personal_credit_score", p, score=720, listed_on="2025-07-01", valid_until=None)
    cs.entry("PS-S-2026", "personal_credit_score", p, score=520, listed_on="2026-07-01", valid_until=None)
    warning = superseded(cs, p, "PS-S-2026", ["PS-S-2025"])
    cs.decide("the score listed last counts: A gets 信易批", p, "admin_license_general", "allow",
              [r("personal_credit_score", pi, "reward", "PS-S-2026")], warnings=[warning])
    cs.decide("the superseded AAA score gives no 信易贷", p, "credit_loan", "allow", [], warnings=[warning])
    cs.decide("before the newer score is listed the older one counts alone", p, "credit_loan", "allow",
              [r("personal_credit_score", dai, "reward", "PS-S-2025")], as_of="2026-06-30T23:59:59+08:00", warnings=[])
    # Listed the same day, the later instant counts; at the same instant, the lower score.
    p = rid(411, born="19820402")
    cs.entry("PS-D-MORNING", "personal_credit_score", p, score=450, listed_on="2026-03-01", valid_until=None)
    cs.entry("PS-D-NOON", "personal_credit_score", p, score=650, listed_on="2026-03-01T12:00:00+08:00", valid_until=None)
    cs.decide("of two scores listed the same day the later instant counts", p, "credit_loan", "allow",
              [r("personal_credit_score", dai, "reward", "PS-D-NOON")], warnings=[superseded(cs, p, "PS-D-NOON", ["PS-D-MORNING"])])
    p = rid(412, born="19820403")
    cs.entry("PS-I-HIGH", "personal_credit_score", p, score=650, listed_on="2026-03-01", valid_until=None)
    cs.entry("PS-I-LOW", "personal_credit_score", p, score=450, listed_on="2026-03-01", valid_until=None)
    cs.decide("of two scores listed at the same instant the lower counts", p, "admin_license_general", "allow", [],
              warnings=[superseded(cs, p, "PS-I-LOW", ["PS-I-HIGH"])])
    # An expired newer entry supersedes nothing; a removed one neither.
    p = rid(413, born="19820404")
    cs.entry("PS-E-OLD", "personal_credit_score", p, score=610, listed_on="2025-01-01", valid_until=None)
    cs.entry("PS-E-EXPIRED", "personal_credit_score", p, score=380, listed_on="2026-01-01", valid_until="2026-06-01")
    cs.entry("PS-E-REMOVED", "personal_credit_score", p, score=390, listed_on="2026-02-01", valid_until=None, status="removed")
    cs.decide("a score entry no longer in force supersedes nothing", p, "credit_loan", "allow",
              [r("personal_credit_score", dai, "reward", "PS-E-OLD")], warnings=[])
    cs.write()


def score_scales():
    """A second scale: the 0–200 test rule set (tests/rulesets/yiwu), three tiers."""
    use_rules("tests/rulesets/yiwu")
    cs = CaseSet("score_scales", "A second score scale: the 0–200 test rule set (base 100; 较差 0, 一般 80, 良好 110, 优秀 140) with three reward tiers, 免押金 from 一般, 信易批 from 良好, 信易贷 from 优秀; a serious entry suppresses them all, and the score listed last counts.", rules="tests/rulesets/yiwu")
    tiers = [("public_service", "deposit_waiver", 80), ("admin_license_general", "xinyi_pi", 110), ("credit_loan", "xinyi_dai", 140)]
    for n, score in enumerate([0, 79, 80, 109, 110, 139, 140, 200]):
        p = rid(500 + n, born="19910101")
        cs.entry(f"YW-{score}", "personal_credit_score", p, score=score, valid_until=None)
        for matter, measure, floor in tiers:
            reasons = [r("personal_credit_score", measure, "reward", f"YW-{score}")] if score >= floor else []
            cs.decide(f"score {score} in {matter}", p, matter, "allow", reasons, warnings=[])
    # A serious entry takes every tier away, in matters where its list has no measure (where no
    # reward was there to take, the decision names no suppression).
    p = rid(510, born="19910102")
    cs.entry("YW-S-150", "personal_credit_score", p, score=150, valid_until=None)
    cs.entry("YW-S-DEBTOR", "court_dishonest_debtor", p)
    cs.decide("a debtor with 150 points gets no 信易贷", p, "credit_loan", "allow", [],
              warnings=[{"code": "rewards_suppressed", "entry_id": "YW-S-DEBTOR", "list": "court_dishonest_debtor"}])
    cs.decide("a debtor with 150 points is blocked in procurement", p, "gov_procurement", "block",
              [r("court_dishonest_debtor", "procurement_ban", "block", "YW-S-DEBTOR")], warnings=[])
    # The score listed last counts on this scale too.
    p = rid(511, born="19910103")
    cs.entry("YW-C-OLD", "personal_credit_score", p, score=160, listed_on="2025-05-01", valid_until=None)
    cs.entry("YW-C-NEW", "personal_credit_score", p, score=95, listed_on="2026-05-01", valid_until=None)
    warning = superseded(cs, p, "YW-C-NEW", ["YW-C-OLD"])
    cs.decide("a newer 95 points supersedes 160: 免押金 only", p, "public_service", "allow",
              [r("personal_credit_score", "deposit_waiver", "reward", "YW-C-NEW")], warnings=[warning])
    cs.decide("a newer 95 points supersedes 160: no 信易贷", p, "credit_loan", "allow", [], warnings=[warning])
    cs.write()
    use_rules("rulesets/qiqihar")


# ---------------------------------------------------------------- legacy_ids.json

ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def org_check(body):
    """GB 11714-1997: 0-9 and A-Z valued 0-35, `11 - (sum mod 11)`, 10 written X and 11 written 0."""
    c = 11 - sum(int(ch, 36) * w for ch, w in zip(body, ORG_WEIGHTS)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def registration_check(body):
    """ISO 7064 MOD 11,10 over the 14 body digits of a 工商注册号."""
    p = 10
    for d in body:
        s = (p + int(d)) % 10 or 10
        p = s * 2 % 11
    return str((11 - p) % 10)


def org_code(n):
    """A valid organisation code, `MA` and a numbered body."""
    body = "MA" + to_base31(n, 6)
    return body + org_check(body)


def uscc_embedding(prefix, code, division="230202"):
    """A valid USCC whose positions 9-17 are the organisation code `code`."""
    first17 = prefix + division + code
    return first17 + uscc_check(first17)


def legacy_kind(identifier):
    """How the service reads an identifier (a string, or a request's `{id, id_type}`): its type
    and its normalised text."""
    if isinstance(identifier, dict):
        named = identifier.get("id_type")
        kind, text = legacy_kind(identifier["id"])
        if named == "registration_number" and kind == "resident_id" and len(text) == 15:
            return named, text
        return kind, text
    text = "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in identifier).strip().upper()
    if len(text) == 10 and text[8] == "-":
        text = text[:8] + text[9:]
    if len(text) == 9:
        return "org_code", text
    if len(text) == 15 and text.isdigit():
        try:
            datetime.strptime("19" + text[6:12], "%Y%m%d")
            return "resident_id", text
        except ValueError:
            return "registration_number", text
    if len(text) == 18 and not (text[:17].isdigit() and text[17] in "0123456789X" and valid_date(text[6:14])):
        return "uscc", text
    return "resident_id", text


def valid_date(digits):
    try:
        datetime.strptime(digits, "%Y%m%d")
        return True
    except ValueError:
        return False


def embedded(uscc_text):
    code = uscc_text[8:17]
    return code if org_check(code[:8]) == code[8] else None


def legacy_hits(entries, subject, direct):
    """The entries a request reaches that the plain model does not: an organisation code's
    written forms match each other, a USCC reaches what is filed under the code it embeds and
    what subjects without a USCC carrying that code hold, and an organisation code or
    registration number reaches every entry of each subject that carries it (a USCC embedding
    the code included). Those found through another identifier carry `_matched`."""
    kind, own = legacy_kind(subject)
    if kind == "resident_id":
        return []
    ident = lambda e: legacy_kind(e["subject_id"])
    carried = lambda e: {legacy_kind(i)[1] for i in e.get("legacy_ids", [])}
    found = []
    for e in entries:
        if e in direct:
            continue
        e_kind, e_id = ident(e)
        if e_id == own:
            found.append((e, None))
            continue
        if kind == "uscc":
            code = embedded(own)
            if code is None:
                continue
            carriers = {ident(x)[1] for x in entries if code in carried(x) and ident(x)[0] != "uscc"}
            reached = e_id == code or e_id in carriers
        else:
            carriers = {ident(x)[1] for x in entries if own in carried(x)}
            carriers |= {ident(x)[1] for x in entries if ident(x)[0] == "uscc" and embedded(ident(x)[1]) == own}
            reached = e_id in carriers
        if reached:
            found.append((dict(e, _matched=True), None))
    return found


def legacy_ids():
    cs = CaseSet(
        "legacy_ids",
        "Identifiers that older records carry instead of a USCC: the 9-character organisation code "
        "(GB 11714, with or without its hyphen) and the 15-digit registration number. A USCC "
        "request reaches entries filed under the organisation code at its positions 9-17 and "
        "those of subjects without a USCC carrying that code; a request by organisation code or "
        "registration number reaches every entry of each subject that carries it. Each reason "
        "found through another identifier carries legacy_id_matched; a USCC never reaches "
        "another USCC's entries. Also the kinds 11 state_organ, 12 public_institution, "
        "13 mass_organization.",
    )
    block = lambda e, *w: [r("court_dishonest_debtor", "court_procurement_ban", "block", e, warnings=list(w) or None)]
    matched = "legacy_id_matched"
    # A court record filed under an organisation code, written with its hyphen.
    code1 = org_code(1)
    company1 = uscc_embedding("91", code1)
    cs.entry("LG-1", "court_dishonest_debtor", code1[:8] + "-" + code1[8])
    cs.decide("a USCC matches an entry filed under the organisation code it embeds", company1, "gov_procurement", "block",
              block("LG-1", matched), warnings=[], subject_view={"id": company1, "kind": "enterprise", "id_type": "uscc"})
    cs.decide("a request by organisation code matches the entry filed under it", code1, "gov_procurement", "block",
              block("LG-1"), warnings=[], subject_view={"id": code1, "kind": "organization", "id_type": "org_code"})
    cs.decide("a request by organisation code with its hyphen and in lower case matches too",
              {"id": (code1[:8] + "-" + code1[8]).lower(), "id_type": "org_code"}, "gov_procurement", "block",
              block("LG-1"), warnings=[], subject_view={"id": code1, "kind": "organization", "id_type": "org_code"},
              model_subject=code1)
    # A USCC entry carrying a registration number: requests by that number, and by the code the
    # USCC embeds, reach it.
    code2 = org_code(2)
    company2 = uscc_embedding("91", code2)
    reg2 = "23020200000034" + registration_check("23020200000034")
    cs.entry("LG-2", "court_dishonest_debtor", company2, legacy_ids=[reg2])
    cs.decide("a request by registration number matches the entry that carries it", reg2, "gov_procurement", "block",
              block("LG-2", matched), warnings=[],
              subject_view={"id": reg2, "kind": "organization", "id_type": "registration_number"})
    cs.decide("a request by organisation code matches the entry of the USCC that embeds it", code2, "gov_procurement", "block",
              block("LG-2", matched), warnings=[], subject_view={"id": code2, "kind": "organization", "id_type": "org_code"})
    cs.decide("the USCC's own entry carries no legacy warning", company2, "gov_procurement", "block",
              block("LG-2"), warnings=[])
    # A registration-number record carrying an organisation code: the USCC embedding the code
    # reaches it.
    code3 = org_code(3)
    company3 = uscc_embedding("91", code3)
    reg3 = "23020300000056" + registration_check("23020300000056")
    cs.entry("LG-3", "court_dishonest_debtor", reg3, legacy_ids=[code3])
    cs.decide("a USCC matches a registration-number entry that carries its organisation code", company3, "gov_procurement", "block",
              block("LG-3", matched), warnings=[])
    # A USCC never reaches another USCC's entries, even one that carries its code.
    code4 = org_code(4)
    cs.entry("LG-4", "court_dishonest_debtor", uscc("91", 404), legacy_ids=[code4])
    cs.decide("a USCC does not reach another USCC's entry carrying its organisation code", uscc_embedding("91", code4),
              "gov_procurement", "allow", [], warnings=[])
    cs.decide("the organisation code itself reaches that entry", code4, "gov_procurement", "block",
              block("LG-4", matched), warnings=[])
    # An organisation code whose check character fails: loaded, matched exactly, warned.
    code5 = org_code(5)
    bad5, expected5 = wrong_last(code5, "0123456789X")
    cs.entry("LG-5", "court_dishonest_debtor", bad5)
    cs.decide("an organisation code with a wrong check character is evaluated with org_code_check_mismatch", bad5,
              "gov_procurement", "block", block("LG-5"), warnings=[{"code": "org_code_check_mismatch", "expected": expected5}])
    cs.decide("a USCC embedding the correct code does not reach the entry under the wrong one",
              uscc_embedding("91", code5), "gov_procurement", "allow", [], warnings=[])
    # Fifteen digits with a real date stay a resident ID; with id_type they are a registration number.
    reg6 = "23020285031212" + registration_check("23020285031212")
    cs.error("a registration number with a wrong check digit and no date is refused",
             "23020200000034" + str((int(registration_check("23020200000034")) + 1) % 10), "gov_procurement", 400, "invalid_subject_id")
    cs.decide("fifteen digits with a real date are a resident ID unless id_type says otherwise", reg6, "gov_procurement", "allow", [],
              warnings=["resident_id_upgraded"], subject_view={"kind": "person", "id_type": "resident_id"})
    cs.decide("id_type registration_number reads fifteen digits with a real date as a registration number",
              {"id": reg6, "id_type": "registration_number"}, "gov_procurement", "allow", [], warnings=[],
              subject_view={"id": reg6, "kind": "organization", "id_type": "registration_number"})
    # Fifteen digits that are a date and a registration number the lists hold mean two subjects:
    # refused unless id_type says which.
    reg7 = "23020286040512" + registration_check("23020286040512")
    company7 = uscc("91", 407)
    cs.entry("LG-7", "court_dishonest_debtor", company7, legacy_ids=[reg7])
    cs.error("fifteen digits that are a date and a listed registration number are refused without id_type",
             reg7, "gov_procurement", 400, "ambiguous_subject_id")
    cs.decide("id_type registration_number settles them", {"id": reg7, "id_type": "registration_number"},
              "gov_procurement", "block", block("LG-7", matched), warnings=[],
              subject_view={"id": reg7, "kind": "organization", "id_type": "registration_number"})
    # The staffing authority's kinds.
    for i, (prefix, kind) in enumerate([("11", "state_organ"), ("12", "public_institution"), ("13", "mass_organization"), ("19", "public_institution")]):
        s = uscc_embedding(prefix, org_code(10 + i))
        cs.decide(f"a USCC starting {prefix} is a {kind}", s, "gov_procurement", "allow", [], warnings=[],
                  subject_view={"id": s, "kind": kind, "id_type": "uscc"})
    cs.write()


if __name__ == "__main__":
    assert uscc("91", 0)[-1] in USCC_ALPHABET
    assert uscc_check("91230200MA1B2C3D8") == "T"
    assert rid_check("23020219850312123") == "8"
    outcome_table()
    invariants()
    identifiers()
    responsible_persons()
    personal_scores()
    score_scales()
    legacy_ids()
