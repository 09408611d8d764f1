#compdef vmx

_vmx_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _VMX_COMPLETE=complete_zsh vmx)
}

compdef _vmx_completion vmx
