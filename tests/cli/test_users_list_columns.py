"""`hitl-tui users list` through the installed console script: its columns line up under their
headers whatever the names' lengths (shorter than the header, or long), counted in terminal cells."""

from __future__ import annotations

from rich.cells import cell_len

from .conftest import ME


def test_users_list_columns_line_up_with_short_names(cli):
    cli.ok("init")
    with cli.service() as s:
        s.add_user("al", "manager", "al@example.com", display_name="Al Ng", actor=ME)
        s.add_user("bo", "it_admin", display_name="Bö Ōtsuka", actor=ME)
        s.add_user("wei", "compliance", display_name="张伟", actor=ME)  # every name shorter than USERNAME
    lines = cli.ok("users", "list").stdout.splitlines()
    header, rows = lines[0], lines[1:]
    assert header.split() == ["USERNAME", "ROLE", "ADMIN", "ACTIVE", "KEY", "NAME", "/", "EMAIL"]
    columns = [header.index(word) for word in ("USERNAME", "ROLE", "ADMIN", "ACTIVE", "KEY", "NAME / EMAIL")]
    assert len(rows) == 4  # you (from init) and the three added
    for row in rows:
        words = row.split(maxsplit=5)
        for word, at in zip(words, columns):  # each value starts right under its header
            assert row[at:].startswith(word) and (at == 0 or row[at - 1] == " "), (header, row)
    assert any(row[columns[5]:] == "Al Ng <al@example.com>" for row in rows), lines


def test_aligned_counts_wide_characters_as_two_cells():
    from hitl_tui.commands.users import aligned

    lines = aligned([["NAME", "ROLE", "NOTE"], ["张伟", "manager", "x"], ["ann", "it_admin", "y"]])
    assert [cell_len(line[:line.index(role)]) for line, role in zip(lines, ("ROLE", "manager", "it_admin"))] == [6] * 3
