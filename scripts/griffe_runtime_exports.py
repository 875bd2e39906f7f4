"""Griffe extension for the API reference: document public names made at run time.

mkdocstrings reads the package by static analysis (griffe), which cannot see a public
name that a module creates at run time, such as the library operations'
``index_corpus, aindex_corpus = operation(index_corpus_flow, ...)``: the reference would
lack them. For every module, each name in its ``__all__`` that static analysis did not
find is taken from the imported module instead (griffe's inspection: the real signature,
including ``__signature__``, and docstring). Names found statically are left as they are.
Used by ``mkdocs.yml``; no effect on the package.
"""

from __future__ import annotations

from typing import Any

import griffe


class RuntimeExports(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        for module in _modules(pkg):
            exports = [str(e) for e in (module.exports or ())]
            missing = [name for name in exports if name not in module.members]
            if not missing:
                continue
            inspected = griffe.inspect(
                module.path,
                docstring_parser=loader.docstring_parser,
                docstring_options=loader.docstring_options,
            )
            for name in missing:
                if name in inspected.members:
                    module.set_member(name, inspected.members[name])


def _modules(module: griffe.Module) -> list[griffe.Module]:
    found = [module]
    for sub in module.modules.values():
        if not sub.is_alias:
            found.extend(_modules(sub))
    return found
