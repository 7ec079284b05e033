"""Pure functions: plain data in, Block Kit out. Views never query anything."""
