"""odibi_dagster: an odibi project as Dagster software-defined assets."""

from odibi_dagster.component import OdibiProjectComponent
from odibi_dagster.definitions import defs_from_loaded_project, defs_from_project
from odibi_dagster.specs import OdibiSpecs, build_odibi_specs
from odibi_dagster.translator import OdibiTranslator, OdibiTranslatorSettings

__all__ = [
    "OdibiProjectComponent",
    "OdibiSpecs",
    "OdibiTranslator",
    "OdibiTranslatorSettings",
    "build_odibi_specs",
    "defs_from_loaded_project",
    "defs_from_project",
]
