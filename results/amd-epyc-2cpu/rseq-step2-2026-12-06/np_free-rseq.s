0000000000003840 <np_free>:
    3840:	test   %rdi,%rdi
    3843:	je     3a70 <np_free+0x230>
    3849:	test   %rsi,%rsi
    384c:	je     3b40 <np_free+0x300>
    3852:	mov    $0xffffffffffffff40,%rax
    3859:	push   %rbp
    385a:	push   %rbx
    385b:	mov    0xa58(%rdi),%rbx
    3862:	cmp    %rbx,%fs:0x8(%rax)
    3867:	jne    39b8 <np_free+0x178>
    386d:	mov    0x9c0(%rdi),%ecx
    3873:	mov    %rsi,%rdx
    3876:	mov    %fs:0x10(%rax),%r10
    387b:	mov    0xa18(%rdi),%r8
    3882:	shr    %cl,%rdx
    3885:	mov    %rdx,%rax
    3888:	and    $0x3,%eax
    388b:	shl    $0x4,%rax
    388f:	add    %r10,%rax
    3892:	cmp    0x48(%rax),%rdx
    3896:	jne    39e0 <np_free+0x1a0>
    389c:	cmp    0x40(%r10),%r8
    38a0:	jne    39e0 <np_free+0x1a0>
    38a6:	mov    0x50(%rax),%r11
    38aa:	mov    0xa10(%rdi),%rax
    38b1:	mov    0x88(%rdi),%ecx
    38b7:	and    %rsi,%rax
    38ba:	mov    %rax,%r9
    38bd:	shr    %cl,%r9
    38c0:	add    $0xd,%r9
    38c4:	shl    $0x5,%r9
    38c8:	mov    (%r11,%r9,1),%rdx
    38cc:	mov    %rdx,%r8
    38cf:	shr    $0x31,%r8
    38d3:	mov    %r8,%rbx
    38d6:	shl    %cl,%rbx
    38d9:	bt     $0x20,%rdx
    38de:	jae    3a80 <np_free+0x240>
    38e4:	mov    0x10(%r11,%r9,1),%rcx
    38e9:	sub    %ebx,%eax
    38eb:	mov    0x18(%r11,%r9,1),%ebp
    38f0:	mul    %rcx
    38f3:	cmp    %edx,%ebp
    38f5:	jbe    39b8 <np_free+0x178>
    38fb:	cmp    %rax,%rcx
    38fe:	jbe    39b8 <np_free+0x178>
    3904:	mov    0x8(%r11,%r9,1),%rax
    3909:	movzwl (%rax,%rdx,2),%r8d
    390e:	mov    0x1c(%r11,%r9,1),%r9d
    3913:	test   %r8w,%r8w
    3917:	jns    39b8 <np_free+0x178>
    391d:	cmp    0xa7c(%rdi),%r9d
    3924:	jae    39b8 <np_free+0x178>
    392a:	mov    0xa90(%rdi),%r11d
    3931:	test   %r11d,%r11d
    3934:	je     3ac0 <np_free+0x280>
    393a:	mov    0xa70(%rdi),%rax
    3941:	mov    0xa78(%rdi),%r8d
    3948:	lea    0x8(%rsi),%rdx
    394c:	xor    %rsi,%rax
    394f:	test   %r8d,%r8d
    3952:	jne    39c0 <np_free+0x180>
    3954:	mov    0x8(%rsi),%rdx
    3958:	cmp    %rdx,%rax
    395b:	je     39cb <np_free+0x18b>
    395d:	mov    %rax,0x8(%rsi)
    3961:	mov    %r9d,%r8d
    3964:	mov    0x11665(%rip),%r11        # 14fd0 <__rseq_offset@GLIBC_2.35>
    396b:	lea    0x28(%r10),%rbx
    396f:	shl    $0x5,%r8
    3973:	lea    0x11706(%rip),%rax        # 15080 <np_registry_released_huge+0x60>
    397a:	mov    %rax,%fs:0x8(%r11)
    397f:	mov    %fs:0x4(%r11),%eax
    3984:	cmp    (%rbx),%eax
    3986:	jne    3ab0 <np_free+0x270>
    398c:	mov    0x8(%rbx),%rax
    3990:	mov    0x8(%rax,%r8,1),%edx
    3995:	mov    (%rax,%r8,1),%rcx
    3999:	cmp    %edx,%ecx
    399b:	jae    3ab0 <np_free+0x270>
    39a1:	mov    %rsi,(%rax,%rcx,8)
    39a5:	inc    %rcx
    39a8:	mov    %rcx,(%rax,%r8,1)
    39ac:	xor    %eax,%eax
    39ae:	pop    %rbx
    39af:	pop    %rbp
    39b0:	ret
    39b1:	nopl   0x0(%rax)
    39b8:	pop    %rbx
    39b9:	pop    %rbp
    39ba:	jmp    33c0 <np_free_slow>
    39bf:	nop
    39c0:	mov    %rax,%rcx
    39c3:	xchg   %rcx,(%rdx)
    39c6:	cmp    %rcx,%rax
    39c9:	jne    3961 <np_free+0x121>
    39cb:	pop    %rbx
    39cc:	mov    $0xb,%esi
    39d1:	pop    %rbp
    39d2:	jmp    3270 <np_free_refused>
    39d7:	nopw   0x0(%rax,%rax,1)
    39e0:	mov    %rsi,%rbx
    39e3:	shr    $0x30,%rbx
    39e7:	jne    39b8 <np_free+0x178>
    39e9:	mov    0x9cc(%rdi),%ecx
    39ef:	mov    %rsi,%r9
    39f2:	mov    0x9c0(%rdi),%ebx
    39f8:	mov    0x9d0(%rdi),%r11
    39ff:	shr    %cl,%r9
    3a02:	mov    0x9d8(%rdi),%rcx
    3a09:	mov    (%rcx,%r9,8),%r9
    3a0d:	test   %r9,%r9
    3a10:	je     39b8 <np_free+0x178>
    3a12:	mov    %ebx,%ecx
    3a14:	mov    %rsi,%rbp
    3a17:	shr    %cl,%rbp
    3a1a:	mov    %rbp,%rcx
    3a1d:	and    %r11,%rcx
    3a20:	mov    (%r9,%rcx,8),%rcx
    3a24:	mov    %rcx,%r11
    3a27:	test   %rcx,%rcx
    3a2a:	je     39b8 <np_free+0x178>
    3a2c:	cmpl   $0x1,0x28(%rcx)
    3a30:	jne    39b8 <np_free+0x178>
    3a36:	cmp    0x40(%r10),%r8
    3a3a:	je     3a60 <np_free+0x220>
    3a3c:	movq   $0xffffffffffffffff,0x48(%r10)
    3a44:	movq   $0xffffffffffffffff,0x58(%r10)
    3a4c:	movq   $0xffffffffffffffff,0x68(%r10)
    3a54:	movq   $0xffffffffffffffff,0x78(%r10)
    3a5c:	mov    %r8,0x40(%r10)
    3a60:	mov    %rdx,0x48(%rax)
    3a64:	mov    %rcx,0x50(%rax)
    3a68:	jmp    38aa <np_free+0x6a>
    3a6d:	nopl   (%rax)
    3a70:	mov    $0x1,%eax
    3a75:	ret
    3a76:	cs nopw 0x0(%rax,%rax,1)
    3a80:	test   %rdx,%rdx
    3a83:	je     39b8 <np_free+0x178>
    3a89:	cmp    %rbx,%rax
    3a8c:	jne    39b8 <np_free+0x178>
    3a92:	mov    0x80(%r11),%rax
    3a99:	mov    %edx,%r9d
    3a9c:	movzwl (%rax,%r8,2),%r8d
    3aa1:	jmp    3913 <np_free+0xd3>
    3aa6:	cs nopw 0x0(%rax,%rax,1)
    3ab0:	mov    %rsi,%rdx
    3ab3:	pop    %rbx
    3ab4:	mov    %r9d,%ecx
    3ab7:	mov    %r10,%rsi
    3aba:	pop    %rbp
    3abb:	jmp    3770 <np_free_to_cpu_cache_slow>
    3ac0:	mov    %r8d,%eax
    3ac3:	and    $0x7fff,%ax
    3ac7:	cmp    0x88(%r10),%ax
    3acf:	jne    3b43 <np_free+0x303>
    3ad1:	mov    0xa70(%rdi),%rax
    3ad8:	mov    0xa78(%rdi),%ecx
    3ade:	lea    0x8(%rsi),%rdx
    3ae2:	xor    %rsi,%rax
    3ae5:	test   %ecx,%ecx
    3ae7:	jne    3b53 <np_free+0x313>
    3ae9:	mov    0x8(%rsi),%rdx
    3aed:	cmp    %rdx,%rax
    3af0:	je     39cb <np_free+0x18b>
    3af6:	mov    %rax,0x8(%rsi)
    3afa:	mov    %r9d,%eax
    3afd:	mov    %rax,%rdx
    3b00:	shl    $0x8,%rdx
    3b04:	add    %r10,%rdx
    3b07:	mov    0x208(%rdx),%ecx
    3b0d:	cmp    0x20c(%rdx),%ecx
    3b13:	jae    3b63 <np_free+0x323>
    3b15:	add    $0x2,%rax
    3b19:	mov    0x200(%rdx),%rdx
    3b20:	mov    %ecx,%edi
    3b22:	add    $0x1,%ecx
    3b25:	shl    $0x8,%rax
    3b29:	add    %r10,%rax
    3b2c:	mov    %rsi,(%rdx,%rdi,8)
    3b30:	mov    %ecx,0x8(%rax)
    3b33:	jmp    39ac <np_free+0x16c>
    3b38:	nopl   0x0(%rax,%rax,1)
    3b40:	xor    %eax,%eax
    3b42:	ret
    3b43:	mov    %rsi,%rdx
    3b46:	pop    %rbx
    3b47:	mov    %r9d,%ecx
    3b4a:	mov    %r10,%rsi
    3b4d:	pop    %rbp
    3b4e:	jmp    37b0 <np_free_not_own>
    3b53:	mov    %rax,%rcx
    3b56:	xchg   %rcx,(%rdx)
    3b59:	cmp    %rcx,%rax
    3b5c:	jne    3afa <np_free+0x2ba>
    3b5e:	jmp    39cb <np_free+0x18b>
    3b63:	mov    %rsi,%rdx
    3b66:	pop    %rbx
    3b67:	mov    %r9d,%ecx
    3b6a:	mov    %r10,%rsi
    3b6d:	pop    %rbp
    3b6e:	jmp    3730 <np_free_push_on_full>
    3b73:	data16 data16 data16 cs nopw 0x0(%rax,%rax,1)

