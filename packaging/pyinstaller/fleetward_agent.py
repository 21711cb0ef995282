"""The frozen agent's entry point (packaging/freeze.py): the same command line as `fleetward-agent`."""

from agent.cli import main

if __name__ == "__main__":
    main()
