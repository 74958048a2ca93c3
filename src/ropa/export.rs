//! Exports of the record (written by the exporters' author; placeholder module declaration).
