from hitl_tui.cli import main

main()
