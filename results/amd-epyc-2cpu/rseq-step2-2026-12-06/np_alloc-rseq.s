00000000000030b0 <np_alloc>:
    30b0:	mov    %rsi,%r8
    30b3:	test   %rdi,%rdi
    30b6:	je     3104 <np_alloc+0x54>
    30b8:	mov    $0xffffffffffffff40,%rdx
    30bf:	mov    0xa58(%rdi),%rax
    30c6:	cmp    %rax,%fs:0x8(%rdx)
    30cb:	jne    3104 <np_alloc+0x54>
    30cd:	lea    -0x1(%rsi),%rax
    30d1:	cmp    $0xfff,%rax
    30d7:	ja     31b0 <np_alloc+0x100>
    30dd:	shr    $0x4,%rax
    30e1:	movzbl 0x4c0(%rdi,%rax,1),%eax
    30e9:	mov    %fs:0x10(%rdx),%r9
    30ee:	mov    0xa90(%rdi),%edx
    30f4:	test   %edx,%edx
    30f6:	je     31f0 <np_alloc+0x140>
    30fc:	cmp    0xa7c(%rdi),%eax
    3102:	jb     3110 <np_alloc+0x60>
    3104:	mov    %r8,%rsi
    3107:	jmp    2ee0 <np_alloc_slow>
    310c:	nopl   0x0(%rax)
    3110:	cmpl   $0x1,0x24(%r9)
    3115:	jbe    3104 <np_alloc+0x54>
    3117:	mov    %eax,%esi
    3119:	push   %rbp
    311a:	lea    0x28(%r9),%rbp
    311e:	push   %rbx
    311f:	mov    %rsi,%r11
    3122:	mov    0x11ea7(%rip),%rbx        # 14fd0 <__rseq_offset@GLIBC_2.35>
    3129:	shl    $0x5,%r11
    312d:	lea    0x11f2c(%rip),%rax        # 15060 <np_registry_released_huge+0x40>
    3134:	mov    %rax,%fs:0x8(%rbx)
    3139:	mov    %fs:0x4(%rbx),%eax
    313d:	cmp    0x0(%rbp),%eax
    3140:	jne    31a0 <np_alloc+0xf0>
    3142:	mov    0x8(%rbp),%rax
    3146:	mov    0xc(%rax,%r11,1),%edx
    314b:	mov    (%rax,%r11,1),%rcx
    314f:	cmp    %edx,%ecx
    3151:	jbe    31a0 <np_alloc+0xf0>
    3153:	mov    -0x8(%rax,%rcx,8),%r10
    3158:	dec    %rcx
    315b:	cmp    %ecx,0x14(%rax,%r11,1)
    3160:	jbe    3167 <np_alloc+0xb7>
    3162:	mov    %ecx,0x14(%rax,%r11,1)
    3167:	mov    %rcx,(%rax,%r11,1)
    316b:	test   %r10,%r10
    316e:	je     31a0 <np_alloc+0xf0>
    3170:	add    $0x2,%rsi
    3174:	subl   $0x1,0x24(%r9)
    3179:	shl    $0x8,%rsi
    317d:	add    %r9,%rsi
    3180:	mov    0x18(%rsi),%rax
    3184:	add    $0x1,%rax
    3188:	mov    %rax,0x18(%rsi)
    318c:	mov    %r10,%rax
    318f:	movq   $0x0,0x8(%r10)
    3197:	pop    %rbx
    3198:	pop    %rbp
    3199:	ret
    319a:	nopw   0x0(%rax,%rax,1)
    31a0:	pop    %rbx
    31a1:	mov    %r8,%rsi
    31a4:	pop    %rbp
    31a5:	jmp    2ee0 <np_alloc_slow>
    31aa:	nopw   0x0(%rax,%rax,1)
    31b0:	cmp    0xa88(%rdi),%rax
    31b7:	jae    3104 <np_alloc+0x54>
    31bd:	lea    -0x1(%rsi,%rsi,1),%rsi
    31c2:	mov    $0x3c,%ecx
    31c7:	bsr    %rsi,%rsi
    31cb:	xor    $0x3f,%rsi
    31cf:	sub    %esi,%ecx
    31d1:	shr    %cl,%rax
    31d4:	mov    $0x39,%ecx
    31d9:	and    $0x3,%eax
    31dc:	sub    %esi,%ecx
    31de:	lea    (%rax,%rcx,4),%eax
    31e1:	jmp    30e9 <np_alloc+0x39>
    31e6:	cs nopw 0x0(%rax,%rax,1)
    31f0:	mov    %rax,%rcx
    31f3:	shl    $0x8,%rcx
    31f7:	add    %r9,%rcx
    31fa:	mov    0x208(%rcx),%esi
    3200:	test   %esi,%esi
    3202:	je     3104 <np_alloc+0x54>
    3208:	mov    0x24(%r9),%edx
    320c:	cmp    $0x1,%edx
    320f:	jbe    3104 <np_alloc+0x54>
    3215:	add    $0x2,%rax
    3219:	sub    $0x1,%edx
    321c:	lea    -0x1(%rsi),%edi
    321f:	shl    $0x8,%rax
    3223:	mov    %edx,0x24(%r9)
    3227:	mov    %edi,0x8(%r9,%rax,1)
    322c:	mov    0x200(%rcx),%rdx
    3233:	mov    (%rdx,%rdi,8),%r10
    3237:	cmp    0x210(%rcx),%edi
    323d:	jae    3245 <np_alloc+0x195>
    323f:	mov    %edi,0x210(%rcx)
    3245:	mov    0x218(%rcx),%rcx
    324c:	add    $0x1,%rcx
    3250:	mov    %rcx,0x18(%r9,%rax,1)
    3255:	mov    %r10,%rax
    3258:	movq   $0x0,0x8(%r10)
    3260:	ret
    3261:	data16 data16 data16 data16 data16 cs nopw 0x0(%rax,%rax,1)

