0000000000009340 <np_alloc>:
    9340:	mov    %rsi,%r8
    9343:	test   %rdi,%rdi
    9346:	je     9394 <np_alloc+0x54>
    9348:	mov    $0xffffffffffffff40,%rdx
    934f:	mov    0xa60(%rdi),%rax
    9356:	cmp    %rax,%fs:0x8(%rdx)
    935b:	jne    9394 <np_alloc+0x54>
    935d:	lea    -0x1(%rsi),%rax
    9361:	cmp    $0xfff,%rax
    9367:	ja     9440 <np_alloc+0x100>
    936d:	shr    $0x4,%rax
    9371:	movzbl 0x4c8(%rdi,%rax,1),%eax
    9379:	mov    %fs:0x10(%rdx),%r9
    937e:	mov    0xa98(%rdi),%edx
    9384:	test   %edx,%edx
    9386:	je     9480 <np_alloc+0x140>
    938c:	cmp    0xa84(%rdi),%eax
    9392:	jb     93a0 <np_alloc+0x60>
    9394:	mov    %r8,%rsi
    9397:	jmp    9170 <np_alloc_slow>
    939c:	nopl   0x0(%rax)
    93a0:	cmpl   $0x1,0x24(%r9)
    93a5:	jbe    9394 <np_alloc+0x54>
    93a7:	mov    %eax,%esi
    93a9:	push   %rbp
    93aa:	lea    0x28(%r9),%rbp
    93ae:	push   %rbx
    93af:	mov    %rsi,%r11
    93b2:	mov    0x14c27(%rip),%rbx        # 1dfe0 <__rseq_offset@GLIBC_2.35>
    93b9:	shl    $0x5,%r11
    93bd:	lea    0x14d1c(%rip),%rax        # 1e0e0 <np_registry_released_huge+0x40>
    93c4:	mov    %rax,%fs:0x8(%rbx)
    93c9:	mov    %fs:0x4(%rbx),%eax
    93cd:	cmp    0x0(%rbp),%eax
    93d0:	jne    9430 <np_alloc+0xf0>
    93d2:	mov    0x8(%rbp),%rax
    93d6:	mov    0xc(%rax,%r11,1),%edx
    93db:	mov    (%rax,%r11,1),%rcx
    93df:	cmp    %edx,%ecx
    93e1:	jbe    9430 <np_alloc+0xf0>
    93e3:	mov    -0x8(%rax,%rcx,8),%r10
    93e8:	dec    %rcx
    93eb:	cmp    %ecx,0x14(%rax,%r11,1)
    93f0:	jbe    93f7 <np_alloc+0xb7>
    93f2:	mov    %ecx,0x14(%rax,%r11,1)
    93f7:	mov    %rcx,(%rax,%r11,1)
    93fb:	test   %r10,%r10
    93fe:	je     9430 <np_alloc+0xf0>
    9400:	add    $0x7,%rsi
    9404:	subl   $0x1,0x24(%r9)
    9409:	shl    $0x8,%rsi
    940d:	add    %r9,%rsi
    9410:	mov    0x18(%rsi),%rax
    9414:	add    $0x1,%rax
    9418:	mov    %rax,0x18(%rsi)
    941c:	mov    %r10,%rax
    941f:	movq   $0x0,0x8(%r10)
    9427:	pop    %rbx
    9428:	pop    %rbp
    9429:	ret
    942a:	nopw   0x0(%rax,%rax,1)
    9430:	pop    %rbx
    9431:	mov    %r8,%rsi
    9434:	pop    %rbp
    9435:	jmp    9170 <np_alloc_slow>
    943a:	nopw   0x0(%rax,%rax,1)
    9440:	cmp    0xa90(%rdi),%rax
    9447:	jae    9394 <np_alloc+0x54>
    944d:	lea    -0x1(%rsi,%rsi,1),%rsi
    9452:	mov    $0x3c,%ecx
    9457:	bsr    %rsi,%rsi
    945b:	xor    $0x3f,%rsi
    945f:	sub    %esi,%ecx
    9461:	shr    %cl,%rax
    9464:	mov    $0x39,%ecx
    9469:	and    $0x3,%eax
    946c:	sub    %esi,%ecx
    946e:	lea    (%rax,%rcx,4),%eax
    9471:	jmp    9379 <np_alloc+0x39>
    9476:	cs nopw 0x0(%rax,%rax,1)
    9480:	mov    %rax,%rcx
    9483:	shl    $0x8,%rcx
    9487:	add    %r9,%rcx
    948a:	mov    0x708(%rcx),%esi
    9490:	test   %esi,%esi
    9492:	je     9394 <np_alloc+0x54>
    9498:	mov    0x24(%r9),%edx
    949c:	cmp    $0x1,%edx
    949f:	jbe    9394 <np_alloc+0x54>
    94a5:	add    $0x7,%rax
    94a9:	sub    $0x1,%edx
    94ac:	lea    -0x1(%rsi),%edi
    94af:	shl    $0x8,%rax
    94b3:	mov    %edx,0x24(%r9)
    94b7:	mov    %edi,0x8(%r9,%rax,1)
    94bc:	mov    0x700(%rcx),%rdx
    94c3:	mov    (%rdx,%rdi,8),%r10
    94c7:	cmp    0x710(%rcx),%edi
    94cd:	jae    94d5 <np_alloc+0x195>
    94cf:	mov    %edi,0x710(%rcx)
    94d5:	mov    0x718(%rcx),%rcx
    94dc:	add    $0x1,%rcx
    94e0:	mov    %rcx,0x18(%r9,%rax,1)
    94e5:	mov    %r10,%rax
    94e8:	movq   $0x0,0x8(%r10)
    94f0:	ret
    94f1:	data16 data16 data16 data16 data16 cs nopw 0x0(%rax,%rax,1)

