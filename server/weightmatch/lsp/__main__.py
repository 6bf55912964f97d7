import sys

from weightmatch.lsp.server import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
