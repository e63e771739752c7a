"""The orders the library is listed in; a module of its own because the command line's parser imports it, and
that must stay quick (`scisynth --help`)."""

COLUMN_SORTS = ("added", "title", "year", "venue", "source", "passages", "references")  # the database sorts these
LIBRARY_SORTS = (*COLUMN_SORTS, "cited_by")  # cited_by is counted from the citation links and sorted after
