"""`python -m greenpipe.run`, the command compiled pipelines and images call: see greenpipe.entrypoint."""

from greenpipe.entrypoint import main

if __name__ == "__main__":
    main()
