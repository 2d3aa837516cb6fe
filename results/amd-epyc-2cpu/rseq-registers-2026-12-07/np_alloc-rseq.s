0000000000009340 <np_alloc>:
    9340:	test   %rdi,%rdi
    9343:	je     9437 <np_alloc+0xf7>
    9349:	mov    $0xffffffffffffff40,%rdx
    9350:	mov    0xa60(%rdi),%rax
    9357:	cmp    %rax,%fs:0x8(%rdx)
    935c:	jne    9437 <np_alloc+0xf7>
    9362:	lea    -0x1(%rsi),%rax
    9366:	cmp    $0xfff,%rax
    936c:	ja     9440 <np_alloc+0x100>
    9372:	shr    $0x4,%rax
    9376:	movzbl 0x4c8(%rdi,%rax,1),%eax
    937e:	mov    %fs:0x10(%rdx),%r8
    9383:	mov    0xa98(%rdi),%edx
    9389:	test   %edx,%edx
    938b:	je     9478 <np_alloc+0x138>
    9391:	cmp    0xa84(%rdi),%eax
    9397:	jae    9437 <np_alloc+0xf7>
    939d:	cmpl   $0x1,0x24(%r8)
    93a2:	mov    %eax,%esi
    93a4:	jbe    9430 <np_alloc+0xf0>
    93aa:	mov    %eax,%esi
    93ac:	lea    0x28(%r8),%r10
    93b0:	mov    %rsi,%r11
    93b3:	shl    $0x5,%r11
    93b7:	mov    0x14c22(%rip),%rdx        # 1dfe0 <__rseq_offset@GLIBC_2.35>
    93be:	lea    0x14d1b(%rip),%rax        # 1e0e0 <np_registry_released_huge+0x40>
    93c5:	mov    %rax,%fs:0x8(%rdx)
    93ca:	mov    %fs:0x4(%rdx),%eax
    93ce:	cmp    (%r10),%eax
    93d1:	jne    9430 <np_alloc+0xf0>
    93d3:	mov    0x8(%r10),%rax
    93d7:	mov    0xc(%rax,%r11,1),%edx
    93dc:	mov    (%rax,%r11,1),%rcx
    93e0:	cmp    %edx,%ecx
    93e2:	jbe    9430 <np_alloc+0xf0>
    93e4:	mov    -0x8(%rax,%rcx,8),%r9
    93e9:	dec    %rcx
    93ec:	cmp    %ecx,0x14(%rax,%r11,1)
    93f1:	jbe    93f8 <np_alloc+0xb8>
    93f3:	mov    %ecx,0x14(%rax,%r11,1)
    93f8:	mov    %rcx,(%rax,%r11,1)
    93fc:	test   %r9,%r9
    93ff:	je     9430 <np_alloc+0xf0>
    9401:	add    $0x7,%rsi
    9405:	subl   $0x1,0x24(%r8)
    940a:	shl    $0x8,%rsi
    940e:	add    %r8,%rsi
    9411:	mov    0x18(%rsi),%rax
    9415:	add    $0x1,%rax
    9419:	mov    %rax,0x18(%rsi)
    941d:	movq   $0x0,0x8(%r9)
    9425:	mov    %r9,%rax
    9428:	ret
    9429:	nopl   0x0(%rax)
    9430:	mov    0xc8(%rdi,%rsi,4),%esi
    9437:	jmp    9170 <np_alloc_slow>
    943c:	nopl   0x0(%rax)
    9440:	cmp    0xa90(%rdi),%rax
    9447:	jae    9437 <np_alloc+0xf7>
    9449:	lea    -0x1(%rsi,%rsi,1),%r8
    944e:	mov    $0x3c,%ecx
    9453:	bsr    %r8,%r8
    9457:	xor    $0x3f,%r8
    945b:	sub    %r8d,%ecx
    945e:	shr    %cl,%rax
    9461:	mov    $0x39,%ecx
    9466:	and    $0x3,%eax
    9469:	sub    %r8d,%ecx
    946c:	lea    (%rax,%rcx,4),%eax
    946f:	jmp    937e <np_alloc+0x3e>
    9474:	nopl   0x0(%rax)
    9478:	mov    %rax,%rcx
    947b:	shl    $0x8,%rcx
    947f:	add    %r8,%rcx
    9482:	mov    0x708(%rcx),%edx
    9488:	test   %edx,%edx
    948a:	je     9437 <np_alloc+0xf7>
    948c:	mov    0x24(%r8),%r9d
    9490:	cmp    $0x1,%r9d
    9494:	jbe    9437 <np_alloc+0xf7>
    9496:	add    $0x7,%rax
    949a:	lea    -0x1(%rdx),%edi
    949d:	sub    $0x1,%r9d
    94a1:	shl    $0x8,%rax
    94a5:	mov    %r9d,0x24(%r8)
    94a9:	mov    %edi,0x8(%r8,%rax,1)
    94ae:	mov    0x700(%rcx),%rdx
    94b5:	mov    (%rdx,%rdi,8),%r9
    94b9:	cmp    0x710(%rcx),%edi
    94bf:	jae    94c7 <np_alloc+0x187>
    94c1:	mov    %edi,0x710(%rcx)
    94c7:	mov    0x718(%rcx),%rcx
    94ce:	add    $0x1,%rcx
    94d2:	mov    %rcx,0x18(%r8,%rax,1)
    94d7:	movq   $0x0,0x8(%r9)
    94df:	jmp    9425 <np_alloc+0xe5>
    94e4:	data16 data16 cs nopw 0x0(%rax,%rax,1)

