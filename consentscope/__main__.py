from consentscope.cli import console_main

console_main()
