"""What an integrator does with jiangcheng_client: decide, screen bidders, read a profile.

    JC_URL=http://127.0.0.1:8080 JC_KEY=jc_… python3 example.py tour
    JC_URL=… JC_KEY=… python3 example.py decide 91230200MA1B2C3D8T construction_bidding --times 3
"""

import argparse
import logging
import sys

from jiangcheng_client import ApiError, Client

# The demo lists' subjects: a company listed as a dishonest judgement debtor, one on the wage
# arrears list, one on no list, and an identifier one character short.
LISTED = "91230200MA1B2C3D8T"
BIDDERS = ["912302061276543275", "91230200MA1B2C3D8U", "9123020MA1B2C3D8T"]
MATTER = "construction_bidding"


def print_decision(client, subject_id, matter):
    try:
        decision = client.decide(subject_id, matter)
    except ApiError as error:
        print(f"decide {subject_id} in {matter}: error {error.status} {error.code}")
        for field_error in error.errors:
            print(f"  field {field_error.field}: {field_error.message}")
        return False
    print(f"decide {subject_id} in {matter}: {decision['decision']} ({decision['decision_label']})")
    for reason in decision["reasons"]:
        print(f"  reason {reason['effect']} {reason['measure']} "
              f"(list {reason['list']}, entry {reason['entry_id']})")
    return True


def print_batch(client, matter, subject_ids):
    answer = client.decide_batch(matter, subject_ids)
    summary = answer["summary"]
    print(f"batch {matter}: {len(subject_ids)} bidders, block {summary['block']}, "
          f"flag {summary['flag']}, allow {summary['allow']}, invalid {summary['invalid']}")
    for index, result in enumerate(answer["results"]):
        if "error" in result:
            error = result["error"]
            print(f"  [{index}] {subject_ids[index]}: invalid {error['code']}: {error['detail']}")
        else:
            measures = ", ".join(reason["measure"] for reason in result["reasons"])
            print(f"  [{index}] {subject_ids[index]}: {result['decision']}"
                  + (f" ({measures})" if measures else ""))


def print_profile(client, subject_id):
    profile = client.subject(subject_id)
    subject = profile["subject"]
    print(f"profile {subject['id']} ({subject['kind']} {subject['kind_label']}): "
          f"{len(profile['entries'])} entries")
    for entry in profile["entries"]:
        print(f"  {entry['entry_id']} {entry['list']} {entry['state']} "
              f"{entry['listed_on']}..{entry.get('valid_until') or ''} dispute {entry['dispute']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("tour", help="decide, screen three bidders, read a profile, a bad ID")
    decide = commands.add_parser("decide", help="decide one subject, several times in a row")
    decide.add_argument("subject_id")
    decide.add_argument("matter")
    decide.add_argument("--times", type=int, default=1)
    arguments = parser.parse_args()

    # Retries are logged as warnings, on stderr.
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s", stream=sys.stderr)
    client = Client()
    if arguments.command == "tour":
        print_decision(client, LISTED, MATTER)
        print_batch(client, MATTER, BIDDERS)
        print_profile(client, LISTED)
        print_decision(client, BIDDERS[2], MATTER)
    else:
        for _ in range(arguments.times):
            if not print_decision(client, arguments.subject_id, arguments.matter):
                sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except ApiError as error:
        print(f"jiangcheng answered {error}", file=sys.stderr)
        sys.exit(1)
    except OSError as error:
        print(f"could not reach jiangcheng: {error}", file=sys.stderr)
        sys.exit(1)
