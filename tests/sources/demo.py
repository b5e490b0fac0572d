"""``make demo-sources``: the three fake platforms on loopback, synced into a data dir.

Starts fake ServiceNow, Confluence (Cloud) and Zendesk servers with N synthetic articles each,
syncs them with ``kb sync`` (the sources passed as ``KB_SOURCES``, credentials in the env vars
they name), edits a few records and syncs again (incremental), then prints ``kb sources``. The
data dir stays for ``kb ask`` and ``kb serve``; the fakes stop when the demo ends.

    python -m tests.sources.demo --data-dir .kb-demo --records 30
"""

from __future__ import annotations

import argparse
import json
import os
from contextlib import ExitStack

from kb_cli.main import main as kb_main
from tests.sources import fake_confluence, fake_servicenow, fake_zendesk


def start_fakes(stack: ExitStack, records: int) -> tuple[dict, dict, list]:
    """The fakes, running; returns (sources table, env, fakes)."""
    sn = fake_servicenow.FakeServiceNow()
    sn.generate(records, kbs=("IT",))
    sn_url = stack.enter_context(fake_servicenow.serve(sn))
    cf = fake_confluence.FakeConfluence()
    cf.generate(records, "IT")
    cf_url = cf.start()
    stack.callback(cf.stop)
    zd = fake_zendesk.FakeZendesk()
    zd.generate(records)
    zd.start()
    stack.callback(zd.stop)
    sources = {
        "it": {"type": "servicenow", "url": sn_url, "username_env": "SN_USER",
               "password_env": "SN_PASSWORD", "knowledge_bases": ["IT"]},
        "wiki": {"type": "confluence", "api": "cloud", "url": cf_url, "spaces": ["IT"],
                 "username_env": "CF_USER", "password_env": "CF_TOKEN"},
        "help": {"type": "zendesk", "url": zd.base_url, "username_env": "ZD_USER",
                 "password_env": "ZD_TOKEN"}}
    env = {"SN_USER": fake_servicenow.USERNAME, "SN_PASSWORD": fake_servicenow.PASSWORD,
           "CF_USER": fake_confluence.USER, "CF_TOKEN": fake_confluence.TOKEN,
           "ZD_USER": f"{fake_zendesk.EMAIL}/token", "ZD_TOKEN": fake_zendesk.TOKEN}
    return sources, env, [sn, cf, zd]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=".kb-demo")
    parser.add_argument("--records", type=int, default=30)
    args = parser.parse_args()
    with ExitStack() as stack:
        sources, env, (sn, cf, zd) = start_fakes(stack, args.records)
        os.environ.update(env, KB_SOURCES=json.dumps(sources))
        print(f"== first sync of 3 fake platforms, {args.records} articles each", flush=True)
        code = kb_main(["sync", "--data-dir", args.data_dir])
        sn.edit(sn.articles[0]["number"], short_description="VPN client: error 809 (edited)")
        cf.edit(next(iter(cf.pages)), title="IT Home (edited)")
        zd.archive(next(iter(zd.articles)))
        print("== one edit on each platform, one archived Zendesk article: sync again",
              flush=True)
        code = code or kb_main(["sync", "--data-dir", args.data_dir])
        kb_main(["sources", "--data-dir", args.data_dir])
    print(f"\ntry: kb ask \"How do I fix issue 3 with the VPN client?\" --data-dir "
          f"{args.data_dir}\n     kb users demo --data-dir {args.data_dir}; kb serve --data-dir "
          f"{args.data_dir}   (Sources page: sign in as demo-admin)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
