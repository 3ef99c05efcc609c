"""Shell completion for ``assay`` (bash): command names, then Hydra overrides after a config
command (groups, their options, config keys), answered by Hydra's own completion against the
project's ``conf/``.

``eval "$(assay completion bash)"`` installs it; so does Hydra's ``-sc install=bash`` after
any command. Hydra's own script asks ``assay -sc query=bash``, which Hydra cannot answer for a
program with subcommands; we answer it too, so scripts installed before still work. Command
names come without importing Hydra; keys and groups cost one composition (about a second).
"""

from __future__ import annotations

import os
import sys

from assayml.errors import EXIT_BAD_INPUT, EXIT_OK

SHELLS = ("bash",)
HYDRA_FLAG = ("-sc", "--shell-completion")
TOP_OPTIONS = ("--help", "--version", "--quiet", "--verbose")
CONFIG_OPTIONS = ("--multirun", "--cfg", "--params", "--help")
VERBOSITY = frozenset({"-q", "--quiet", "-v", "--verbose"})
# Options of a config command that take a value: neither they nor it are overrides.
VALUED = frozenset(
    {"--cfg", "-c", "--params", "--package", "-p", "--info", "-i", *HYDRA_FLAG}
    | {"-cp", "--config-path", "-cn", "--config-name", "-cd", "--config-dir"}
)

SCRIPT = r"""# bash completion for assay: eval "$(assay completion bash)" (e.g. in ~/.bashrc)
_assay_complete() {
    local IFS=$'\n'
    COMPREPLY=($("${COMP_WORDS[0]}" completion query "${COMP_LINE:0:COMP_POINT}" \
        "${COMP_WORDS[COMP_CWORD]}" 2>/dev/null))
    # A key or group still to be finished (model. model= hydra/) takes no space after it.
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *[=./] ]]; then
        compopt -o nospace 2>/dev/null
    fi
}
complete -o default -F _assay_complete assay
"""
UNINSTALL = "complete -r assay 2>/dev/null; unset -f _assay_complete\n"

HELP = """\
usage: assay completion bash            print the bash completion script
       assay completion query LINE [WORD]  what the script asks: candidates, one a line

Install for this shell:   eval "$(assay completion bash)"
Install for every shell:  assay completion bash >> ~/.bashrc
Run from a project root (the folder holding conf/) to complete Hydra groups and keys.
`assay <command> -sc install=bash` prints the same script.
"""


def run_completion(args: list[str]) -> int:
    """``assay completion ...``; returns the exit code."""
    if not args or args[0] in ("-h", "--help"):
        print(HELP, end="", file=sys.stdout if args else sys.stderr)
        return EXIT_OK if args else EXIT_BAD_INPUT
    if args[0] == "query" and len(args) in (2, 3):
        print("\n".join(reply(args[1], args[2] if len(args) == 3 else None)))
        return EXIT_OK
    if args[0] in SHELLS and len(args) == 1:
        print(SCRIPT, end="")
        return EXIT_OK
    print(
        f"assay completion: error: unknown '{' '.join(args)}'; shells: {', '.join(SHELLS)}\n\n"
        + HELP,
        end="",
        file=sys.stderr,
    )
    return EXIT_BAD_INPUT


def run_hydra_flag(args: list[str]) -> int:
    """Hydra's ``-sc install=bash | uninstall=bash | query=bash`` anywhere on the line."""
    at = next(i for i, arg in enumerate(args) if arg in HYDRA_FLAG)
    action, _, shell = (args[at + 1] if at + 1 < len(args) else "").partition("=")
    if shell not in SHELLS or action not in ("install", "uninstall", "query"):
        given = f"'{action}={shell}'" if action else "nothing"
        print(
            f"assay: error: -sc takes install=bash, uninstall=bash or query=bash, not {given}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if action == "install":
        print(SCRIPT, end="")
    elif action == "uninstall":
        print(UNINSTALL, end="")
    else:  # Hydra's script: the line in COMP_LINE, '=' not a word break, words by spaces
        line = os.environ.get("COMP_LINE", "")
        point = int(os.environ.get("COMP_POINT", len(line)) or len(line))
        print(" ".join(candidates(line[:point])))
    return EXIT_OK


def reply(line: str, current: str | None = None) -> list[str]:
    """Candidates for the last word of ``line`` as bash will insert them: ``current`` is the
    word as bash split it (``COMP_WORDBREAKS`` splits ``model=mlp`` at ``=``), so the part
    of our word before it is cut from each candidate."""
    word = "" if not line or line[-1].isspace() else line.split()[-1]
    found = candidates(line)
    if current is None or not word.endswith(current):
        return found
    cut = len(word) - len(current)
    return [candidate[cut:] for candidate in found]


def candidates(line: str) -> list[str]:
    """Whole-word completions of the last word of ``line`` (``assay train mod`` ->
    ``model=``, ``model.``, ...)."""
    words = line.split()
    word = "" if not line or line[-1].isspace() or not words else words.pop()
    args = [arg for arg in words[1:] if arg not in VERBOSITY]  # words[0]: the program
    if not args:
        return matching([*command_names(), *TOP_OPTIONS], word)
    command, rest = args[0], args[1:]
    if command not in config_commands() or (rest and rest[-1] in VALUED):
        return []  # the shell completes file names (complete -o default)
    if word.startswith("-"):
        return matching(CONFIG_OPTIONS, word)
    try:
        return hydra_candidates(overrides(rest), word)
    except Exception:  # a half-typed line must never print a traceback at TAB
        return []


def command_names() -> list[str]:
    """Every command, from the CLI's own tables."""
    from assayml.cli.main import TOOL_HELP

    return [*config_commands(), *TOOL_HELP]


def config_commands() -> list[str]:
    from assayml.stages.table import STAGES

    return [*(stage.name for stage in STAGES), "run"]


def overrides(args: list[str]) -> list[str]:
    """The Hydra overrides among a config command's arguments (options and their values
    dropped; ``-m`` kept, as it changes what composes)."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in VALUED:
            skip = True
        elif arg in ("-m", "--multirun"):
            kept.append("-m")
        elif not arg.startswith("-"):
            kept.append(arg)
    return kept


def hydra_candidates(words: list[str], word: str) -> list[str]:
    """Hydra's completion of ``word`` after ``words`` against ./conf (no config: none)."""
    from pathlib import Path

    from assayml.cli.config_commands import CONF_DIR, CONFIG_NAME

    conf = Path.cwd() / CONF_DIR
    if not (conf / f"{CONFIG_NAME}.yaml").is_file():
        return []
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.plugins.completion_plugin import DefaultCompletionPlugin

    from assayml.config.store import register_configs

    register_configs()
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(conf)))
    # DefaultCompletionPlugin is Hydra's completion logic without a shell attached.
    found = DefaultCompletionPlugin(loader)._query(
        config_name=CONFIG_NAME, line=" ".join([*words, word])
    )
    # Our schemas sit in the ConfigStore beside the YAML options; they are no user choice.
    found = [c for c in found if not c.partition("=")[2].endswith("_schema")]
    # Hydra leaves a group with both options and subgroups bare (model: mlp.yaml and
    # scheduler/); offer both ways on.
    bare = [c for c in found if "=" not in c and not c.startswith("~") and c[-1] not in "/."]
    return sorted({*found, *(f"{c}{end}" for c in bare for end in "=/")} - set(bare))


def matching(names, word: str) -> list[str]:
    return sorted({name for name in names if name.startswith(word)})
