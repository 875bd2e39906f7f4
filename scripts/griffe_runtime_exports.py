"""Griffe extension for the API reference: document public names made at run time.

mkdocstrings reads the package by static analysis (griffe), which cannot see a public
name that a module creates at run time, such as the library operations'
``index_corpus, aindex_corpus = operation(index_corpus_flow, ...)``: the reference would
lack them. For every module, each name in its ``__all__`` that static analysis did not
find is taken from the imported module instead (griffe's inspection: the real signature,
including ``__signature__``, and docstring). Names found statically are left as they are.
Likewise for the methods of the exported classes that are made at run time (the clients'
``upsert = ...`` from ``qdrant_tokenpool._methods``, and the overrides it installs): a
public function in the class's own namespace is documented from the imported class.
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
            classes = [
                name
                for name in exports
                if name in module.members
                and not module.members[name].is_alias
                and module.members[name].is_class
            ]
            if not missing and not classes:
                continue
            inspected = griffe.inspect(
                module.path,
                docstring_parser=loader.docstring_parser,
                docstring_options=loader.docstring_options,
            )
            for name in missing:
                if name in inspected.members:
                    module.set_member(name, inspected.members[name])
            for name in classes:
                found = inspected.members.get(name)
                # a class whose __module__ names its public home inspects as an alias
                if found is not None and not found.is_alias:
                    _runtime_methods(module.members[name], found)


def _runtime_methods(static: Any, inspected: Any) -> None:
    """Methods of a class made at run time (assigned or installed), from the inspection;
    and the public members of the package's own (unexported) base classes, such as the
    clients' shared mixin."""
    import importlib

    runtime = getattr(importlib.import_module(static.module.path), static.name)
    for attr, value in vars(runtime).items():
        if attr.startswith("_") or not callable(value) or attr not in inspected.members:
            continue
        known = static.members.get(attr)
        if known is None or not known.is_function:
            static.set_member(attr, inspected.members[attr])
    package = static.module.path.split(".")[0]
    for base in runtime.__mro__[1:]:
        if not base.__module__.startswith(package + "."):
            continue
        base_doc = griffe.inspect(base.__module__).members.get(base.__name__)
        for attr, member in (base_doc.members.items() if base_doc else ()):
            if not attr.startswith("_") and attr not in static.members:
                static.set_member(attr, member)


def _modules(module: griffe.Module) -> list[griffe.Module]:
    found = [module]
    for sub in module.modules.values():
        if not sub.is_alias:
            found.extend(_modules(sub))
    return found
