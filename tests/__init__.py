"""The test suite; every folder is a package, so test modules of equal basenames never clash."""
