"""The `template` plugin: answers built from Go templates for questions matching regexes."""
