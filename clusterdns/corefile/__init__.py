"""The Corefile: tokens, server blocks and directives, server addresses, directive checks."""
