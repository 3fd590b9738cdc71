"""The only part of mmfeat that imports Apache Beam: thin DoFns around runner-agnostic steps."""
